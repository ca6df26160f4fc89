// The two APIs in front of the stack and the Rust functions behind them:
//   WebSocket API `$connect` -> ws-connect (verifies the Cognito ID token in `?token=`),
//   `$disconnect` -> ws-disconnect, `$default` -> ws-message (frames; a turn goes on the queue),
//   `ping` -> a MOCK integration that answers `{"type":"pong"}` itself (keepalives run no Lambda);
//   HTTP API `/api/*` with Cognito's JWT authorizer -> http-api (history, conversations, status);
//   telegram.ts adds `POST /telegram/webhook`, which authenticates Telegram itself.
// Both stages are throttled, so a leaked token cannot run up the bill faster than a person types.

import { Duration, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  CfnIntegration,
  CfnIntegrationResponse,
  CfnRoute,
  CfnRouteResponse,
  CfnStage,
  CorsHttpMethod,
  HttpApi,
  HttpMethod,
  HttpStage,
  LogGroupLogDestination,
  WebSocketApi,
  WebSocketStage,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpUserPoolAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration, WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Construct } from 'constructs';
import type { Auth } from './auth.ts';
import * as env from './environment.ts';
import { functionLogs, RustLambda } from './functions.ts';
import { grantApiObjects, grantIndexedTableData, grantManageConnections, grantWorkspaceReads } from './grants.ts';
import type { Secrets } from './secrets.ts';
import type { TurnQueue } from './queue.ts';
import type { Storage } from './storage.ts';

export interface GatewayProps {
  readonly storage: Storage;
  readonly auth: Auth;
  readonly turns: TurnQueue;
  /** The web app's origin (`https://<distribution>`), the only one the HTTP API answers CORS for. */
  readonly webOrigin: string;
  /** `SERVERLESS_OPENCLAW_MODEL` and friends, so `/api/status`, `/model` and `/status` report what the agent uses. */
  readonly providerEnvironment: env.Environment;
  /** Where users' API keys go: http-api stores and lists them from the settings page. */
  readonly secrets: Secrets;
}

/** Requests per second (steady, burst) per route of a stage. */
const THROTTLE = { rateLimit: 20, burstLimit: 40 };

/**
 * The routes anyone can call without a token (`$connect`, Telegram's webhook) get their own, smaller
 * limit, so an anonymous client cannot use up what signed-in users' routes are allowed.
 */
export const ANONYMOUS_THROTTLE = { ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 };

/**
 * Gives `routeKey` of `stage` the [[ANONYMOUS_THROTTLE]]. The stage waits for `route`: CloudFormation
 * refuses route settings for a route key that does not exist yet.
 */
export function throttleAnonymousRoute(stage: Construct, routeKey: string, route: Construct): void {
  const cfn = stage.node.defaultChild as CfnStage;
  cfn.addPropertyOverride(`RouteSettings.${routeKey}`, ANONYMOUS_THROTTLE);
  cfn.node.addDependency(route);
}

export class Gateway extends Construct {
  readonly webSocketApi: WebSocketApi;
  readonly webSocketStage: WebSocketStage;
  readonly httpApi: HttpApi;
  /** The REST API's stage (Telegram's construct throttles its webhook route on it). */
  readonly restStage: HttpStage;
  /** ws-connect, which wakes the agent when a web client connects. */
  readonly connect: RustLambda;
  /** ws-connect, ws-disconnect, ws-message, http-api. */
  readonly functions: readonly RustLambda[];
  /** The `ping` route: API Gateway answers it, no function runs. */
  readonly keepalive: CfnRoute;

  constructor(scope: Construct, id: string, props: GatewayProps) {
    super(scope, id);
    const { storage, auth, turns } = props;

    this.webSocketApi = new WebSocketApi(this, 'Sockets', { description: 'serverless-openclaw chat frames' });
    this.webSocketStage = new WebSocketStage(this, 'SocketsStage', {
      webSocketApi: this.webSocketApi,
      stageName: 'live',
      autoDeploy: true,
      throttle: THROTTLE,
    });
    Validations.of(this.webSocketStage).acknowledge({
      id: 'AwsSolutions-APIG1',
      reason:
        'WebSocket access logs need the account-wide API Gateway CloudWatch role, which this stack does not take over; each function logs its connects, frames and disconnects.',
    });

    const connect = new RustLambda(this, 'WsConnect', {
      binary: 'ws-connect',
      description: 'WebSocket $connect: verifies the Cognito ID token and records the connection',
      timeout: Duration.seconds(10),
      environment: {
        ...env.connectionsTable(storage.connections),
        ...env.cognito(auth.userPool.userPoolId, auth.client.userPoolClientId),
      },
    });
    grantIndexedTableData(storage.connections, connect.role, 'write');

    const disconnect = new RustLambda(this, 'WsDisconnect', {
      binary: 'ws-disconnect',
      description: 'WebSocket $disconnect: removes the connection record',
      timeout: Duration.seconds(10),
      environment: env.connectionsTable(storage.connections),
    });
    grantIndexedTableData(storage.connections, disconnect.role, 'write');

    const message = new RustLambda(this, 'WsMessage', {
      binary: 'ws-message',
      description: 'WebSocket $default: chat frames; a user message is stored and queued as a turn',
      timeout: Duration.seconds(15),
      environment: {
        ...storage.tablesEnvironment(),
        ...env.turnQueue(turns.queue),
        ...env.websocketEndpoint(this.webSocketStage),
        // The attachment store is built with the bucket's name; a message only checks and links the
        // attachments it names (items of the conversations table), so that needs no S3 grant; `/skills`
        // and `/skill` read the user's skills in their workspace.
        ...env.dataBucket(storage.bucket),
        // `/model` and `/status` name the deployment's default model.
        ...props.providerEnvironment,
      },
    });
    storage.grantTables(message.role);
    grantWorkspaceReads(storage.bucket, message.role);
    turns.queue.grantSendMessages(message.role);
    grantManageConnections(this.webSocketApi, message.role);

    const connectRoute = this.webSocketApi.addRoute('$connect', {
      integration: new WebSocketLambdaIntegration('Connect', connect.function),
    });
    throttleAnonymousRoute(this.webSocketStage, '$connect', connectRoute);
    this.webSocketApi.addRoute('$disconnect', {
      integration: new WebSocketLambdaIntegration('Disconnect', disconnect.function),
    });
    this.webSocketApi.addRoute('$default', { integration: new WebSocketLambdaIntegration('Message', message.function) });
    this.keepalive = answerPings(this, this.webSocketApi);
    Validations.of(this.webSocketApi).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        'WebSocket APIs authorize at $connect only: ws-connect verifies the Cognito ID token (signature, issuer, audience, expiry) and refuses the upgrade otherwise; later frames are tied to that verified connection.',
    });

    const rest = new RustLambda(this, 'HttpApi', {
      binary: 'http-api',
      description: 'HTTP API: conversations, history, settings, status (the user comes from the JWT authorizer)',
      timeout: Duration.seconds(20),
      environment: {
        ...storage.tablesEnvironment(),
        ...env.dataBucket(storage.bucket),
        ...env.turnQueue(turns.queue),
        ...env.websocketEndpoint(this.webSocketStage),
        ...env.userKeysPath(props.secrets.userKeysPath),
        ...props.providerEnvironment,
      },
    });
    storage.grantTables(rest.role);
    props.secrets.grantUserKeysWrite(rest.role);
    grantApiObjects(storage.bucket, rest.role);
    turns.queue.grantSendMessages(rest.role);
    grantManageConnections(this.webSocketApi, rest.role);

    this.httpApi = new HttpApi(this, 'Rest', {
      description: 'serverless-openclaw REST API',
      createDefaultStage: false,
      corsPreflight: {
        allowOrigins: [props.webOrigin],
        allowMethods: [CorsHttpMethod.GET, CorsHttpMethod.POST, CorsHttpMethod.PUT, CorsHttpMethod.PATCH, CorsHttpMethod.DELETE],
        allowHeaders: ['authorization', 'content-type'],
        maxAge: Duration.days(1),
      },
    });
    const accessLogs = functionLogs(this, 'RestAccessLogs');
    this.restStage = new HttpStage(this, 'RestStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: THROTTLE,
      accessLogSettings: {
        destination: new LogGroupLogDestination(accessLogs),
        format: AccessLogFormat.jsonWithStandardFields(),
      },
    });
    // Every `/api` route needs a valid ID token for the web client; OPTIONS stays unrouted, so API Gateway
    // answers CORS preflights itself, before any authorizer.
    this.httpApi.addRoutes({
      path: '/api/{proxy+}',
      methods: [HttpMethod.GET, HttpMethod.POST, HttpMethod.PUT, HttpMethod.PATCH, HttpMethod.DELETE],
      integration: new HttpLambdaIntegration('Rest', rest.function),
      authorizer: new HttpUserPoolAuthorizer('Cognito', auth.userPool, { userPoolClients: [auth.client] }),
    });

    this.connect = connect;
    this.functions = [connect, disconnect, message, rest];
  }

  /** The REST base URL (no trailing slash): the web app calls `<apiUrl>/api/...`. */
  get apiUrl(): string {
    return this.httpApi.apiEndpoint;
  }

  /** The URL the web app opens: `wss://<api>.execute-api.<region>.amazonaws.com/live`. */
  get webSocketUrl(): string {
    return this.webSocketStage.url;
  }
}

/**
 * The `ping` route (the API routes on `$request.body.action`): a MOCK integration whose integration
 * response is `{"type":"pong"}`, returned to the client through the route's `$default` route response.
 * A web client's keepalive costs two WebSocket messages and no Lambda invocation or table read.
 */
function answerPings(scope: Construct, api: WebSocketApi): CfnRoute {
  const integration = new CfnIntegration(scope, 'PingIntegration', {
    apiId: api.apiId,
    integrationType: 'MOCK',
    description: 'Answers {"action":"ping"} with {"type":"pong"}',
    // A MOCK integration's status comes from its request template.
    requestTemplates: { $default: '{"statusCode": 200}' },
    templateSelectionExpression: '\\$default',
  });
  new CfnIntegrationResponse(scope, 'PingIntegrationResponse', {
    apiId: api.apiId,
    integrationId: integration.ref,
    integrationResponseKey: '$default',
    responseTemplates: { $default: '{"type":"pong"}' },
    templateSelectionExpression: '\\$default',
  });
  const route = new CfnRoute(scope, 'PingRoute', {
    apiId: api.apiId,
    routeKey: 'ping',
    target: `integrations/${integration.ref}`,
    // Two-way: the integration response goes back to the client.
    routeResponseSelectionExpression: '$default',
  });
  new CfnRouteResponse(scope, 'PingRouteResponse', { apiId: api.apiId, routeId: route.ref, routeResponseKey: '$default' });
  Validations.of(route).acknowledge({
    id: 'AwsSolutions-APIG4',
    reason:
      'WebSocket APIs authorize at $connect (ws-connect verifies the Cognito ID token); ping only answers pong on a connection that passed it, and runs nothing.',
  });
  return route;
}
