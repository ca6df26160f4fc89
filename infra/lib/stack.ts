// The whole deployment in one stack: storage, auth, secrets, the turn queue, the APIs and their
// functions, the agent, the Telegram webhook, the web app, schedules and monitoring. Every construct
// gets what it needs through readonly props; every permission is a grant by the construct that owns
// the resource.

import { CfnOutput, CfnParameter, Stack, type StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import type { RuntimeConfig } from '../../web/src/runtimeConfig.ts';
import { Agent, AGENT_TIMEOUT } from './agent.ts';
import { Auth } from './auth.ts';
import { DeadLetters } from './deadLetters.ts';
import * as env from './environment.ts';
import { Gateway } from './gateway.ts';
import { Monitoring } from './monitoring.ts';
import { TurnQueue } from './queue.ts';
import { Schedules } from './schedules.ts';
import { Secrets } from './secrets.ts';
import type { Settings } from './settings.ts';
import { Storage } from './storage.ts';
import { Telegram } from './telegram.ts';
import { Web } from './web.ts';

export interface ServerlessOpenClawStackProps extends StackProps {
  readonly settings: Settings;
}

export class ServerlessOpenClawStack extends Stack {
  readonly storage: Storage;
  readonly auth: Auth;
  readonly gateway: Gateway;
  readonly agent: Agent;
  readonly telegram: Telegram;
  readonly schedules: Schedules;
  readonly deadLetters: DeadLetters;
  readonly web: Web;
  /** What the web app's config.json says (with CloudFormation tokens until deploy). */
  readonly runtimeConfig: RuntimeConfig;

  constructor(scope: Construct, id: string, props: ServerlessOpenClawStackProps) {
    super(scope, id, props);
    const { settings } = props;

    const ownerEmail = new CfnParameter(this, 'OwnerEmail', {
      type: 'String',
      description: 'Email of the owner: their user name, where the temporary password, alarms and budget alerts go.',
      allowedPattern: '^[^\\s@]+@[^\\s@]+\\.[^\\s@]+$',
      constraintDescription: 'must be an email address',
    }).valueAsString;
    const monthlyBudgetUsd = new CfnParameter(this, 'MonthlyBudgetUsd', {
      type: 'Number',
      description: 'Monthly AWS cost (USD) above which the owner is emailed (80 % actual, 100 % forecast).',
      default: 10,
      minValue: 1,
    }).valueAsNumber;

    const providerEnvironment = env.optional({
      MODEL: settings.model,
      LLM_BASE_URL: settings.llmBaseUrl,
      LLM_API: settings.llmApi,
      LLM_CONTEXT_WINDOW: settings.llmContextWindow?.toString(),
    });

    this.storage = new Storage(this, 'Storage', { transcriptRetentionDays: settings.transcriptRetentionDays });
    this.auth = new Auth(this, 'Auth', { ownerEmail, selfSignUp: settings.selfSignUp });
    const secrets = new Secrets(this, 'Secrets', { llmProvider: settings.llmProvider });
    const turns = new TurnQueue(this, 'TurnQueue', { agentTimeout: AGENT_TIMEOUT });
    this.web = new Web(this, 'Web');
    this.storage.allowUploadsFrom(this.web.url);
    this.gateway = new Gateway(this, 'Gateway', {
      storage: this.storage,
      auth: this.auth,
      turns,
      webOrigin: this.web.url,
      providerEnvironment,
      secrets,
    });
    this.agent = new Agent(this, 'Agent', {
      storage: this.storage,
      turns,
      webSocketApi: this.gateway.webSocketApi,
      webSocketStage: this.gateway.webSocketStage,
      apiKey: secrets.apiKey,
      telegramBotToken: secrets.telegramBotToken,
      secrets,
      providerEnvironment,
      guestTools: settings.guestTools,
      maxConcurrency: settings.agentMaxConcurrency,
      memoryMb: settings.agentMemoryMb,
      snapStart: settings.snapStart,
    });
    this.telegram = new Telegram(this, 'Telegram', {
      storage: this.storage,
      turns,
      httpApi: this.gateway.httpApi,
      restStage: this.gateway.restStage,
      webSocketApi: this.gateway.webSocketApi,
      webSocketStage: this.gateway.webSocketStage,
      botToken: secrets.telegramBotToken,
      webhookSecret: secrets.telegramWebhookSecret,
      allowlist: settings.telegramAllowlist,
      providerEnvironment,
    });
    // A web client connecting, or a Telegram command, wakes the agent while the user types.
    this.agent.grantWake(this.gateway.connect);
    this.agent.grantWake(this.telegram.webhook);
    this.schedules = new Schedules(this, 'Schedules', {
      storage: this.storage,
      webSocketApi: this.gateway.webSocketApi,
      webSocketStage: this.gateway.webSocketStage,
    });
    this.deadLetters = new DeadLetters(this, 'DeadLetters', {
      storage: this.storage,
      turns,
      webSocketApi: this.gateway.webSocketApi,
      webSocketStage: this.gateway.webSocketStage,
      telegramBotToken: secrets.telegramBotToken,
    });
    const monitoring = new Monitoring(this, 'Monitoring', {
      ownerEmail,
      monthlyBudgetUsd,
      agent: this.agent.function,
      functions: [...this.gateway.functions, this.telegram.webhook, this.schedules.watchdog, this.deadLetters.responder].map(
        (lambda) => lambda.function,
      ),
      httpApi: this.gateway.httpApi,
      webSocketStage: this.gateway.webSocketStage,
      turns,
    });

    this.runtimeConfig = {
      version: 1,
      apiUrl: this.gateway.apiUrl,
      websocketUrl: this.gateway.webSocketUrl,
      auth: {
        kind: 'cognito',
        region: this.region,
        userPoolId: this.auth.userPool.userPoolId,
        userPoolClientId: this.auth.client.userPoolClientId,
      },
    };
    this.web.publish(this.runtimeConfig);

    new CfnOutput(this, 'WebUrl', { value: this.web.url, description: 'Open this in a browser' });
    new CfnOutput(this, 'ApiUrl', { value: this.gateway.apiUrl });
    new CfnOutput(this, 'WebSocketUrl', { value: this.gateway.webSocketUrl });
    new CfnOutput(this, 'UserPoolId', { value: this.auth.userPool.userPoolId });
    new CfnOutput(this, 'UserPoolClientId', { value: this.auth.client.userPoolClientId });
    new CfnOutput(this, 'LlmApiKeyParameter', { value: secrets.apiKey.parameter.parameterName });
    new CfnOutput(this, 'TelegramWebhookUrl', {
      value: this.telegram.webhookUrl,
      description: 'Registered with Telegram by `make deploy` (serverless-openclaw telegram set-webhook)',
    });
    new CfnOutput(this, 'AlarmTopicArn', {
      value: monitoring.topic.topicArn,
      description: 'Alarms go to its email subscription; `make deploy` says whether the owner has confirmed it',
    });
  }
}
