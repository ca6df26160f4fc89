// The agent: a container-image function (docker/agent.Dockerfile with a bootstrap cross-compiled here,
// built and pushed by `cdk deploy` itself; see agentImage.ts) that runs one turn per SQS message with
// the pinned OpenClaw. 2048 MB for Node and OpenClaw; 15 minutes, the Lambda maximum, above the
// 10-minute turn deadline so a turn always ends (and releases its lease) before Lambda would kill it.
// The concurrency cap bounds what a flood can cost.

import { Duration } from 'aws-cdk-lib';
import type { WebSocketApi, WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { Architecture, DockerImageFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { IStringParameter } from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { agentImageCode } from './agentImage.ts';
import * as env from './environment.ts';
import { functionLogs, functionRole } from './functions.ts';
import { grantBucketObjects, grantManageConnections } from './grants.ts';
import type { Secrets } from './secrets.ts';
import type { GuestTools } from './settings.ts';
import type { TurnQueue } from './queue.ts';
import type { Storage } from './storage.ts';

const AGENT_MEMORY_MB = 2048;
export const AGENT_TIMEOUT = Duration.minutes(15);
/** The turn deadline (`SERVERLESS_OPENCLAW_TURN_TIMEOUT_SECS`); its lease lasts one minute longer. */
const TURN_TIMEOUT = Duration.minutes(10);

export interface AgentProps {
  readonly storage: Storage;
  readonly turns: TurnQueue;
  readonly webSocketApi: WebSocketApi;
  readonly webSocketStage: WebSocketStage;
  /** The SSM SecureString holding the LLM API key, and the variable naming it for the agent. */
  readonly apiKey: { readonly parameter: IStringParameter; readonly variable: string };
  /** The SSM SecureString holding the Telegram bot token: replies to Telegram go through the Bot API. */
  readonly telegramBotToken: IStringParameter;
  /** Users' own API keys (read per turn) live here. */
  readonly secrets: Secrets;
  readonly providerEnvironment: env.Environment;
  /** The tools of guests from the Telegram allowlist (docs/security.md). */
  readonly guestTools: GuestTools;
  readonly maxConcurrency: number;
}

export class Agent extends Construct {
  readonly function: DockerImageFunction;

  constructor(scope: Construct, id: string, props: AgentProps) {
    super(scope, id);
    const { storage, turns } = props;
    const role = functionRole(this, 'Role', 'Runs the agent function');
    const logGroup = functionLogs(this, 'Logs');
    logGroup.grantWrite(role);

    this.function = new DockerImageFunction(this, 'Function', {
      description: 'Runs one turn per queued message with the pinned OpenClaw',
      code: agentImageCode(this),
      architecture: Architecture.ARM_64,
      memorySize: AGENT_MEMORY_MB,
      timeout: AGENT_TIMEOUT,
      role,
      logGroup,
      environment: {
        ...storage.tablesEnvironment(),
        ...env.dataBucket(storage.bucket),
        ...env.websocketEndpoint(props.webSocketStage),
        ...env.turnTimeout(TURN_TIMEOUT.toSeconds()),
        [props.apiKey.variable]: props.apiKey.parameter.parameterName,
        ...env.telegramTokenParameter(props.telegramBotToken),
        ...env.userKeysPath(props.secrets.userKeysPath),
        ...props.providerEnvironment,
        ...env.guestTools(props.guestTools),
      },
    });
    storage.grantTables(role);
    grantBucketObjects(storage.bucket, role);
    grantManageConnections(props.webSocketApi, role);
    props.apiKey.parameter.grantRead(role);
    props.telegramBotToken.grantRead(role);
    props.secrets.grantUserKeysRead(role);

    this.function.addEventSource(
      new SqsEventSource(turns.queue, {
        batchSize: 1,
        reportBatchItemFailures: true,
        maxConcurrency: props.maxConcurrency,
      }),
    );
  }
}
