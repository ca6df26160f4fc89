// The Telegram bot's entry: `POST /telegram/webhook` on the HTTP API -> telegram-webhook, which stores
// the user's message and queues a turn like ws-message does (the agent streams the reply back through
// the Bot API). Telegram cannot send a Cognito token, so the route has no authorizer: the function
// compares the `X-Telegram-Bot-Api-Secret-Token` header with the secret `serverless-openclaw telegram
// set-webhook` registered, and refuses Telegram users it does not know.

import { Duration, Validations } from 'aws-cdk-lib';
import {
  type HttpApi,
  HttpMethod,
  HttpNoneAuthorizer,
  HttpRoute,
  HttpRouteKey,
  type HttpStage,
  type WebSocketApi,
  type WebSocketStage,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IStringParameter } from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import * as env from './environment.ts';
import { RustLambda } from './functions.ts';
import { throttleAnonymousRoute } from './gateway.ts';
import { grantAttachmentWrites, grantManageConnections, grantWorkspaceReads } from './grants.ts';
import type { TurnQueue } from './queue.ts';
import type { Storage } from './storage.ts';

/** The webhook's path on the HTTP API (`serverless-openclaw telegram set-webhook --url` registers it). */
const WEBHOOK_PATH = '/telegram/webhook';

export interface TelegramProps {
  readonly storage: Storage;
  readonly turns: TurnQueue;
  readonly httpApi: HttpApi;
  /** The REST API's stage, on which the webhook route gets the anonymous routes' throttle. */
  readonly restStage: HttpStage;
  /** Where a Telegram turn is also shown: the web chats the user has open. */
  readonly webSocketApi: WebSocketApi;
  readonly webSocketStage: WebSocketStage;
  readonly botToken: IStringParameter;
  readonly webhookSecret: IStringParameter;
  /** Telegram user ids the bot accepts. */
  readonly allowlist: readonly string[];
  /** `SERVERLESS_OPENCLAW_MODEL` and friends, so `/status` reports what the agent uses. */
  readonly providerEnvironment: env.Environment;
}

export class Telegram extends Construct {
  readonly webhook: RustLambda;
  readonly route: HttpRoute;
  private readonly httpApi: HttpApi;

  constructor(scope: Construct, id: string, props: TelegramProps) {
    super(scope, id);
    const { storage, turns } = props;
    this.httpApi = props.httpApi;

    // It answers Telegram as soon as the turn is queued; it never waits for the agent. A photo or
    // document is fetched from Telegram first (at most 20 MB), hence the longer deadline (the HTTP
    // API's integration timeout is 30 s).
    this.webhook = new RustLambda(this, 'Webhook', {
      binary: 'telegram-webhook',
      description: 'Telegram webhook: checks the secret token, stores the message (and its file) and queues a turn',
      timeout: Duration.seconds(29),
      environment: {
        ...storage.tablesEnvironment(),
        ...env.dataBucket(storage.bucket),
        ...env.turnQueue(turns.queue),
        ...env.websocketEndpoint(props.webSocketStage),
        ...env.telegramTokenParameter(props.botToken),
        ...env.telegramSecretParameter(props.webhookSecret),
        ...env.telegramAllowlist(props.allowlist),
        ...props.providerEnvironment,
      },
    });
    const role = this.webhook.role;
    storage.grantTables(role);
    grantAttachmentWrites(storage.bucket, role);
    grantWorkspaceReads(storage.bucket, role);
    turns.queue.grantSendMessages(role);
    grantManageConnections(props.webSocketApi, role);
    props.botToken.grantRead(role);
    props.webhookSecret.grantRead(role);

    // Explicitly no authorizer, so a default authorizer added to the API later cannot lock Telegram out.
    this.route = new HttpRoute(this, 'Route', {
      httpApi: props.httpApi,
      routeKey: HttpRouteKey.with(WEBHOOK_PATH, HttpMethod.POST),
      integration: new HttpLambdaIntegration('Webhook', this.webhook.function),
      authorizer: new HttpNoneAuthorizer(),
    });
    throttleAnonymousRoute(props.restStage, `POST ${WEBHOOK_PATH}`, this.route);
    Validations.of(this.route).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        'Telegram cannot send a Cognito token; telegram-webhook compares the X-Telegram-Bot-Api-Secret-Token header in constant time with the secret registered through setWebhook (kept in SSM) and refuses the request otherwise, then accepts only known Telegram users.',
    });
  }

  /** The URL to register with Telegram's setWebhook: `<api endpoint>/telegram/webhook`. */
  get webhookUrl(): string {
    return `${this.httpApi.apiEndpoint}${WEBHOOK_PATH}`;
  }
}
