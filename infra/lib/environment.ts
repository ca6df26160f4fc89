// The functions' environment variables (docs/configuration.md, "AWS Lambda functions"): one place that
// spells each name, so the constructs only say which resources a function uses.

import type { WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import type { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { Bucket } from 'aws-cdk-lib/aws-s3';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import type { IStringParameter } from 'aws-cdk-lib/aws-ssm';

const PREFIX = 'SERVERLESS_OPENCLAW_';

export type Environment = Record<string, string>;

export const conversationsTable = (table: TableV2): Environment => ({ [`${PREFIX}CONVERSATIONS_TABLE`]: table.tableName });
export const connectionsTable = (table: TableV2): Environment => ({ [`${PREFIX}CONNECTIONS_TABLE`]: table.tableName });
export const leasesTable = (table: TableV2): Environment => ({ [`${PREFIX}LEASES_TABLE`]: table.tableName });
export const dataBucket = (bucket: Bucket): Environment => ({ [`${PREFIX}BUCKET`]: bucket.bucketName });
export const turnQueue = (queue: Queue): Environment => ({ [`${PREFIX}QUEUE_URL`]: queue.queueUrl });
/** The Management API endpoint of the stage: `https://<api>.execute-api.<region>.amazonaws.com/<stage>`. */
export const websocketEndpoint = (stage: WebSocketStage): Environment => ({
  [`${PREFIX}WEBSOCKET_ENDPOINT`]: stage.callbackUrl,
});
export const cognito = (userPoolId: string, clientId: string): Environment => ({
  [`${PREFIX}COGNITO_USER_POOL_ID`]: userPoolId,
  [`${PREFIX}COGNITO_CLIENT_ID`]: clientId,
});
export const turnTimeout = (seconds: number): Environment => ({ [`${PREFIX}TURN_TIMEOUT_SECS`]: String(seconds) });
/** How long a turn whose conversation is busy waits before SQS delivers it again. */
export const busyRetry = (seconds: number): Environment => ({ [`${PREFIX}BUSY_RETRY_SECS`]: String(seconds) });
/** The SSM SecureString holding the bot token (the agent and the webhook call the Bot API with it). */
export const telegramTokenParameter = (parameter: IStringParameter): Environment => ({
  [`${PREFIX}TELEGRAM_TOKEN_PARAMETER`]: parameter.parameterName,
});
/** The SSM SecureString holding the secret Telegram sends in `X-Telegram-Bot-Api-Secret-Token`. */
export const telegramSecretParameter = (parameter: IStringParameter): Environment => ({
  [`${PREFIX}TELEGRAM_SECRET_PARAMETER`]: parameter.parameterName,
});
/** Telegram user ids, comma-separated (empty for none). */
export const userKeysPath = (path: string): Environment => ({ [`${PREFIX}USER_KEYS_PATH`]: path });
export const telegramAllowlist = (ids: readonly string[]): Environment => ({ [`${PREFIX}TELEGRAM_ALLOWLIST`]: ids.join(',') });

/** `restricted` or `full`: the tools of guests from the Telegram allowlist. */
export const guestTools = (access: string): Environment => ({ [`${PREFIX}GUEST_TOOLS`]: access });

/** The agent function (or its alias) a gateway wakes ahead of a turn, as one `addEnvironment` pair. */
export const agentFunction = (target: IFunction): [string, string] => [`${PREFIX}AGENT_FUNCTION`, target.functionArn];

/** Variables whose value is optional: an unset one is left out. */
export function optional(values: Record<string, string | undefined>): Environment {
  return Object.fromEntries(
    Object.entries(values)
      .filter((entry): entry is [string, string] => entry[1] !== undefined)
      .map(([name, value]) => [`${PREFIX}${name}`, value]),
  );
}
