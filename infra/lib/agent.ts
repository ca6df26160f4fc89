// The agent: a container-image function (docker/agent.Dockerfile with a bootstrap cross-compiled here,
// built and pushed by `cdk deploy` itself; see agentImage.ts) that runs one turn per SQS message with
// the pinned OpenClaw. 1769 MB by default (`agentMemoryMb`): one full vCPU, all the single-threaded
// runner uses, and room for Node, OpenClaw and the tools' processes. 15 minutes, the Lambda maximum,
// above the 10-minute turn deadline so a turn always ends (and releases its lease) before Lambda would
// kill it.
// The concurrency cap bounds what a flood can cost.
//
// ws-connect and telegram-webhook wake it ahead of a turn (an asynchronous invoke, `grantWake`), so
// its cold start overlaps the user's typing. With `snapStart=true` every deploy publishes a version
// with SnapStart (Lambda initialises it once and snapshots the warm runner); the alias `live` points
// at it, and the queue and the wake-ups both invoke the alias: Lambda keeps environments per version,
// so a wake-up of another version would warm an environment no turn reaches.

import { Annotations, Duration } from 'aws-cdk-lib';
import type { WebSocketApi, WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import {
  Alias,
  Architecture,
  DockerImageFunction,
  type Function as LambdaFunction,
  type IFunction,
  SnapStartConf,
} from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { IStringParameter } from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { agentImageCode } from './agentImage.ts';
import * as env from './environment.ts';
import { functionLogs, functionRole } from './functions.ts';
import { grantBucketObjects, grantManageConnections } from './grants.ts';
import type { Secrets } from './secrets.ts';
import type { GuestTools } from './settings.ts';
import { MAX_RECEIVE_COUNT, type TurnQueue } from './queue.ts';
import type { Storage } from './storage.ts';

export const AGENT_TIMEOUT = Duration.minutes(15);
/** The turn deadline (`SERVERLESS_OPENCLAW_TURN_TIMEOUT_SECS`); its lease lasts one minute longer. */
const TURN_TIMEOUT = Duration.minutes(10);
/** How long a turn's session lease lasts (crates/core: the turn deadline plus a minute). */
export const LEASE_TTL = TURN_TIMEOUT.plus(Duration.minutes(1));
/**
 * How long a turn whose conversation is busy waits for its next delivery
 * (`SERVERLESS_OPENCLAW_BUSY_RETRY_SECS`): the receives left before the dead-letter queue span a whole
 * lease, so a turn behind a lease that is never released (its holder died) runs once the lease expires.
 */
export const BUSY_RETRY = Duration.seconds(Math.ceil(LEASE_TTL.toSeconds() / (MAX_RECEIVE_COUNT - 1)));

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
  readonly memoryMb: number;
  /** Publish versions with SnapStart and run turns on the alias `live` (off by default: docs/cost.md). */
  readonly snapStart: boolean;
}

/** A wake-up that could not start within a minute is useless: the turn it announced has started it. */
const WAKE_MAX_AGE = Duration.minutes(1);

export class Agent extends Construct {
  readonly function: DockerImageFunction;
  /** What turns and wake-ups invoke: the function, or with SnapStart its alias `live`. */
  readonly target: IFunction;

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
      memorySize: props.memoryMb,
      timeout: AGENT_TIMEOUT,
      snapStart: props.snapStart ? SnapStartConf.ON_PUBLISHED_VERSIONS : undefined,
      role,
      logGroup,
      environment: {
        ...storage.tablesEnvironment(),
        ...env.dataBucket(storage.bucket),
        ...env.websocketEndpoint(props.webSocketStage),
        ...env.turnTimeout(TURN_TIMEOUT.toSeconds()),
        ...env.turnQueue(turns.queue),
        ...env.busyRetry(BUSY_RETRY.toSeconds()),
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

    let target: LambdaFunction | Alias = this.function;
    if (props.snapStart) {
      target = new Alias(this, 'Live', { aliasName: 'live', version: this.function.currentVersion });
      Annotations.of(this.function).acknowledgeWarning(
        '@aws-cdk/aws-lambda:snapStartRequirePublish',
        'Every deploy publishes the current version, and the alias live that everything invokes points at it.',
      );
    }
    this.target = target;
    target.addEventSource(
      new SqsEventSource(turns.queue, {
        batchSize: 1,
        reportBatchItemFailures: true,
        maxConcurrency: props.maxConcurrency,
      }),
    );
    // Lambda would keep a wake-up it cannot run for six hours and retry a failed one twice.
    target.configureAsyncInvoke({ maxEventAge: WAKE_MAX_AGE, retryAttempts: 0 });
  }

  /** Lets `fn` wake the agent ahead of a turn: the right to invoke exactly the target, and its ARN. */
  grantWake(fn: { readonly function: LambdaFunction; readonly role: IGrantable }): void {
    // Not `grantInvoke`, which adds every version and alias (`<arn>:*`).
    Grant.addToPrincipal({ grantee: fn.role, actions: ['lambda:InvokeFunction'], resourceArns: [this.target.functionArn] });
    fn.function.addEnvironment(...env.agentFunction(this.target));
  }
}
