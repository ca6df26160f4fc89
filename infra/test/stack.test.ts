// The stack has every resource the deployment needs, with the properties that matter.

import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import { readAgentImageManifest } from '../lib/agentImage.ts';
import { GATEWAY_MEMORY_MB } from '../lib/functions.ts';
import { logicalId, resources, synthesize } from './synth.ts';

const { app, stack, template } = synthesize();

function functionProps(construct: Parameters<typeof logicalId>[0]): Record<string, any> {
  return resources(template)[logicalId(construct)].Properties as Record<string, any>;
}

const TELEGRAM_ROUTE = 'POST /telegram/webhook';

/** The routes of the HTTP API. */
function httpRoutes(): Array<Record<string, any>> {
  return Object.values(
    template.findResources('AWS::ApiGatewayV2::Route', { Properties: { ApiId: { Ref: logicalId(stack.gateway.httpApi) } } }),
  ).map((route) => route.Properties as Record<string, any>);
}

describe('storage', () => {
  it('keeps conversations in an on-demand table with point-in-time recovery, Telegram items expiring by TTL', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
      Replicas: [Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } })],
    });
  });

  it("indexes each user's messages for search on the conversations table, projecting only what a search filters on", () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: Match.arrayWith([{ AttributeName: 'searchUser', AttributeType: 'S' }]),
      GlobalSecondaryIndexes: [
        {
          IndexName: 'messagesByUser',
          KeySchema: [
            { AttributeName: 'searchUser', KeyType: 'HASH' },
            { AttributeName: 'sk', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['searchText', 'role', 'createdAt'] },
        },
      ],
    });
  });

  it('expires connections and leases through TTL, with the byUser index on connections', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [{ AttributeName: 'connectionId', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byUser',
          KeySchema: [
            { AttributeName: 'userId', KeyType: 'HASH' },
            { AttributeName: 'connectionId', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['expiresAt'] },
        },
      ],
    });
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [
        { AttributeName: 'userId', KeyType: 'HASH' },
        { AttributeName: 'conversationId', KeyType: 'RANGE' },
      ],
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
    });
  });

  it('encrypts and versions the data bucket, with lifecycle rules for transcripts and old versions', () => {
    const bucket = functionProps(stack.storage.bucket);
    assert.deepEqual(bucket.BucketEncryption, {
      ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
    });
    assert.deepEqual(bucket.VersioningConfiguration, { Status: 'Enabled' });
    assert.deepEqual(bucket.PublicAccessBlockConfiguration, {
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    const rules = bucket.LifecycleConfiguration.Rules as Array<Record<string, any>>;
    const oldVersions = rules.find((rule) => rule.Id === 'old-versions');
    assert.equal(oldVersions?.NoncurrentVersionExpiration.NoncurrentDays, 30);
    assert.equal(oldVersions?.AbortIncompleteMultipartUpload.DaysAfterInitiation, 1);
    const transcripts = rules.find((rule) => rule.Id === 'transcripts');
    assert.equal(transcripts?.Prefix, 'transcripts/');
    assert.deepEqual(transcripts?.Transitions, [{ StorageClass: 'STANDARD_IA', TransitionInDays: 30 }]);
    assert.equal(transcripts?.ExpirationInDays, undefined, 'transcripts are kept unless a retention is set');
    const attachments = rules.find((rule) => rule.Id === 'attachments');
    assert.equal(attachments?.Prefix, 'attachments/');
    assert.deepEqual(attachments?.Transitions, [{ StorageClass: 'STANDARD_IA', TransitionInDays: 30 }]);
    assert.equal(attachments?.ExpirationInDays, undefined, 'attachments go with their conversation, never by age');
    const uploads = rules.find((rule) => rule.Id === 'uploads');
    assert.equal(uploads?.Prefix, 'uploads/');
    assert.equal(uploads?.ExpirationInDays, 1, 'an upload never completed is removed after a day');
    assert.equal(uploads?.NoncurrentVersionExpiration?.NoncurrentDays, 1, 'its old versions too');
  });

  it("lets only the web app's origin put uploads into the data bucket from a browser", () => {
    const bucket = functionProps(stack.storage.bucket);
    const rules = bucket.CorsConfiguration.CorsRules as Array<Record<string, any>>;
    assert.equal(rules.length, 1);
    assert.deepEqual(rules[0]?.AllowedMethods, ['PUT']);
    assert.deepEqual(rules[0]?.AllowedHeaders, ['*']);
    const origins = JSON.stringify(rules[0]?.AllowedOrigins);
    assert.equal(rules[0]?.AllowedOrigins.length, 1);
    assert.match(origins, /WebCdn[0-9A-F]{8}","DomainName"/, 'the CloudFront distribution, no other origin');
  });

  it('expires transcripts when a retention is configured', () => {
    const { stack: retaining, template: retained } = synthesize({ transcriptRetentionDays: '400' });
    const rules = (resources(retained)[logicalId(retaining.storage.bucket)].Properties as any).LifecycleConfiguration.Rules as Array<
      Record<string, any>
    >;
    assert.equal(rules.find((rule) => rule.Id === 'transcripts')?.ExpirationInDays, 400);
  });

  it('refuses TLS-less access to both buckets', () => {
    for (const bucket of [stack.storage.bucket, stack.web.bucket]) {
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: logicalId(bucket) },
        PolicyDocument: {
          Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
        },
      });
    }
  });
});

describe('auth', () => {
  it('has a user pool with optional TOTP, no SMS, and sign-up closed', () => {
    template.hasResourceProperties('AWS::Cognito::UserPool', {
      MfaConfiguration: 'OPTIONAL',
      EnabledMfas: ['SOFTWARE_TOKEN_MFA'],
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
      UsernameAttributes: ['email'],
    });
  });

  it('opens sign-up only when the deployment asks for it', () => {
    synthesize({ selfSignUp: 'true' }).template.hasResourceProperties('AWS::Cognito::UserPool', {
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: false },
    });
  });

  it('gives the web app a public client with SRP sign-in and refresh tokens only (no password sent)', () => {
    template.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      GenerateSecret: false,
      ExplicitAuthFlows: ['ALLOW_USER_SRP_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'],
      PreventUserExistenceErrors: 'ENABLED',
    });
  });

  it('turns OAuth off on the web client: no hosted UI flows, scopes or callback URLs', () => {
    const client = Object.values(template.findResources('AWS::Cognito::UserPoolClient'))[0].Properties as Record<string, any>;
    assert.equal(client.AllowedOAuthFlowsUserPoolClient, false);
    assert.equal(client.AllowedOAuthFlows, undefined);
    assert.equal(client.AllowedOAuthScopes, undefined);
    assert.equal(client.CallbackURLs, undefined);
  });

  it('creates the owner from the OwnerEmail parameter and emails the temporary password', () => {
    template.hasParameter('OwnerEmail', { Type: 'String' });
    template.hasResourceProperties('AWS::Cognito::UserPoolUser', {
      Username: { Ref: 'OwnerEmail' },
      DesiredDeliveryMediums: ['EMAIL'],
      UserAttributes: Match.arrayWith([{ Name: 'email', Value: { Ref: 'OwnerEmail' } }]),
    });
  });
});

describe('APIs and gateway functions', () => {
  it('routes $connect, $disconnect and $default to their functions, and ping to no function, on a throttled stage', () => {
    const routes = template.findResources('AWS::ApiGatewayV2::Route', {
      Properties: { ApiId: { Ref: logicalId(stack.gateway.webSocketApi) } },
    });
    assert.deepEqual(
      Object.values(routes)
        .map((route) => (route.Properties as { RouteKey: string }).RouteKey)
        .sort(),
      ['$connect', '$default', '$disconnect', 'ping'],
    );
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      ProtocolType: 'WEBSOCKET',
      RouteSelectionExpression: '$request.body.action',
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      ApiId: { Ref: logicalId(stack.gateway.webSocketApi) },
      StageName: 'live',
      DefaultRouteSettings: { ThrottlingRateLimit: 20, ThrottlingBurstLimit: 40 },
    });
  });

  it('gives the anonymous routes ($connect, the Telegram webhook) their own smaller throttle, each stage after its route', () => {
    const stages = template.findResources('AWS::ApiGatewayV2::Stage');
    const stageOf = (api: Parameters<typeof logicalId>[0]) =>
      Object.values(stages).find((stage) => (stage.Properties as { ApiId: { Ref?: string } }).ApiId.Ref === logicalId(api))!;
    const anonymous = { ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 };
    const sockets = stageOf(stack.gateway.webSocketApi);
    assert.deepEqual(sockets.Properties.RouteSettings, { $connect: anonymous });
    const rest = stageOf(stack.gateway.httpApi);
    assert.deepEqual(rest.Properties.RouteSettings, { [TELEGRAM_ROUTE]: anonymous });
    assert.deepEqual(rest.Properties.DefaultRouteSettings, { ThrottlingRateLimit: 20, ThrottlingBurstLimit: 40 });
    const routeId = (key: string) =>
      Object.entries(template.findResources('AWS::ApiGatewayV2::Route', { Properties: { RouteKey: key } }))[0][0];
    assert.ok((sockets.DependsOn as string[]).includes(routeId('$connect')), 'the socket stage waits for $connect');
    assert.ok((rest.DependsOn as string[]).includes(routeId(TELEGRAM_ROUTE)), 'the REST stage waits for the webhook route');
  });

  it('answers {"action":"ping"} with {"type":"pong"} from a MOCK integration: no Lambda behind the keepalive', () => {
    const ping = template.findResources('AWS::ApiGatewayV2::Route', { Properties: { RouteKey: 'ping' } });
    const [routeId, route] = Object.entries(ping)[0];
    const props = route.Properties as Record<string, any>;
    assert.equal(props.RouteResponseSelectionExpression, '$default', 'two-way: the answer goes back');
    const integrationId = props.Target['Fn::Join'][1][1].Ref as string;
    const integration = resources(template)[integrationId].Properties as Record<string, any>;
    assert.equal(integration.IntegrationType, 'MOCK');
    assert.equal(integration.IntegrationUri, undefined, 'no function behind it');
    assert.deepEqual(integration.RequestTemplates, { $default: '{"statusCode": 200}' });
    template.hasResourceProperties('AWS::ApiGatewayV2::IntegrationResponse', {
      IntegrationId: { Ref: integrationId },
      IntegrationResponseKey: '$default',
      ResponseTemplates: { $default: '{"type":"pong"}' },
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::RouteResponse', {
      RouteId: { Ref: routeId },
      RouteResponseKey: '$default',
    });
    // No Lambda may be invoked by this route.
    const permissions = Object.values(template.findResources('AWS::Lambda::Permission'));
    assert.ok(permissions.every((p) => !JSON.stringify(p).includes('/ping')));
  });

  it('protects every REST route with the Cognito JWT authorizer and answers CORS for the web origin only', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: {
        Audience: [{ Ref: logicalId(stack.auth.client) }],
        Issuer: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith(['https://cognito-idp.'])]) }),
      },
    });
    const routes = httpRoutes().filter((route) => route.RouteKey !== TELEGRAM_ROUTE);
    assert.deepEqual(routes.map((route) => route.RouteKey).sort(), [
      'DELETE /api/{proxy+}',
      'GET /api/{proxy+}',
      'PATCH /api/{proxy+}',
      'POST /api/{proxy+}',
      'PUT /api/{proxy+}',
    ]);
    const authorizer = logicalId(stack.gateway.httpApi.node.findChild('Cognito'));
    for (const route of routes) {
      assert.equal(route.AuthorizationType, 'JWT', route.RouteKey);
      assert.deepEqual(route.AuthorizerId, { Ref: authorizer }, route.RouteKey);
    }
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      ProtocolType: 'HTTP',
      CorsConfiguration: Match.objectLike({
        AllowOrigins: [{ 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [logicalId(stack.web.distribution), 'DomainName'] }]] }],
      }),
    });
  });

  it('runs every gateway function on arm64 provided.al2023 with at most 256 MB', () => {
    assert.equal(stack.gateway.functions.length, 4);
    const rust = Object.values(resources(template)).filter(
      (resource) => resource.Type === 'AWS::Lambda::Function' && (resource.Properties as any).Runtime === 'provided.al2023',
    );
    assert.equal(rust.length, 7, 'ws-connect, ws-disconnect, ws-message, http-api, telegram-webhook, watchdog, dead-letters');
    for (const fn of rust) {
      const props = fn.Properties as Record<string, any>;
      assert.deepEqual(props.Architectures, ['arm64']);
      assert.ok(props.MemorySize <= 256 && props.MemorySize === GATEWAY_MEMORY_MB, `${props.Description}: ${props.MemorySize}`);
      assert.equal(props.Handler, 'bootstrap');
    }
  });

  it('tells ws-connect which pool and client to trust', () => {
    const [connect] = stack.gateway.functions;
    const variables = functionProps(connect.function).Environment.Variables;
    assert.deepEqual(variables.SERVERLESS_OPENCLAW_COGNITO_USER_POOL_ID, { Ref: logicalId(stack.auth.userPool) });
    assert.deepEqual(variables.SERVERLESS_OPENCLAW_COGNITO_CLIENT_ID, { Ref: logicalId(stack.auth.client) });
    assert.deepEqual(variables.SERVERLESS_OPENCLAW_CONNECTIONS_TABLE, { Ref: logicalId(stack.storage.connections) });
  });
});

describe('agent', () => {
  const agent = () => functionProps(stack.agent.function);

  it('is a 1769 MB (one vCPU), 15-minute, arm64 container image function', () => {
    const props = agent();
    assert.equal(props.PackageType, 'Image');
    assert.equal(props.MemorySize, 1769);
    assert.equal(props.Timeout, 900);
    assert.deepEqual(props.Architectures, ['arm64']);
  });

  it('is built by CDK from docker/agent.Dockerfile for linux/arm64 (no manual ECR step)', () => {
    const assembly = app.synth();
    const manifest = JSON.parse(readFileSync(join(assembly.directory, `${stack.artifactId}.assets.json`), 'utf8'));
    const images = Object.values<{ source: Record<string, string> }>(manifest.dockerImages);
    assert.equal(images.length, 1);
    assert.equal(images[0].source.dockerFile, 'docker/agent.Dockerfile');
    assert.equal(images[0].source.platform, 'linux/arm64');
  });

  it('stages a build context of the Dockerfile and what the image copies, no build output or packages', () => {
    const assembly = app.synth();
    const manifest = JSON.parse(readFileSync(join(assembly.directory, `${stack.artifactId}.assets.json`), 'utf8'));
    const [image] = Object.values<{ source: { directory: string } }>(manifest.dockerImages);
    const context = join(assembly.directory, image.source.directory);
    const staged = (readdirSync(context, { recursive: true }) as string[]).filter((path) => statSync(join(context, path)).isFile());
    // CDK lets the Dockerfile in by its file name only; .dockerignore must let docker/agent.Dockerfile in.
    assert.ok(staged.includes('docker/agent.Dockerfile'), staged.join(' '));
    for (const file of readAgentImageManifest().files) {
      // Files made by a stage of the image, or just before it (not during these tests), aside.
      if (file.context === undefined || file.buildCommand !== undefined) continue;
      assert.ok(
        staged.some((path) => path === file.context || path.startsWith(`${file.context}/`)),
        file.context,
      );
    }
    assert.deepEqual(
      staged.filter((path) => /(^|\/)(node_modules|target|crates|\.tools)(\/|$)/.test(path)),
      [],
    );
  });

  it('cross-compiles the bootstrap for arm64 to where the Dockerfile copies it from', () => {
    const bootstrap = readAgentImageManifest().files.find((file) => file.image === '/var/runtime/bootstrap');
    const command = bootstrap!.buildCommand!;
    const option = (name: string) => command[command.indexOf(name) + 1];
    assert.deepEqual(command.slice(0, 3), ['cargo', 'lambda', 'build']);
    assert.ok(command.includes('--release') && command.includes('--arm64'), command.join(' '));
    // cargo-lambda writes <lambda dir>/<bin>/bootstrap.
    assert.equal(`${option('--lambda-dir')}/${option('--bin')}/bootstrap`, bootstrap!.context);
  });

  it('takes one turn per SQS message and reports partial batch failures', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: logicalId(stack.agent.function) },
      EventSourceArn: Match.objectLike({ 'Fn::GetAtt': Match.arrayWith(['Arn']) }),
      BatchSize: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 5 },
    });
  });

  it('ends a turn before Lambda would stop it, and reads the API key from SSM', () => {
    const variables = agent().Environment.Variables;
    assert.equal(variables.SERVERLESS_OPENCLAW_TURN_TIMEOUT_SECS, '600');
    assert.equal(variables.SERVERLESS_OPENCLAW_ANTHROPIC_API_KEY_PARAMETER, '/serverless-openclaw/ServerlessOpenClaw/anthropic-api-key');
    assert.equal(variables.ANTHROPIC_API_KEY, undefined, 'no key value in the template');
  });

  it('names the provider the deployment chose', () => {
    const { stack: custom, template: customTemplate } = synthesize({
      llmProvider: 'compatible',
      llmBaseUrl: 'https://llm.example/v1',
      model: 'qwen3-coder',
      llmApi: 'openai-completions',
      llmContextWindow: '32768',
    });
    const variables = (resources(customTemplate)[logicalId(custom.agent.function)].Properties as any).Environment.Variables;
    assert.equal(variables.SERVERLESS_OPENCLAW_LLM_API_KEY_PARAMETER, '/serverless-openclaw/ServerlessOpenClaw/llm-api-key');
    assert.equal(variables.SERVERLESS_OPENCLAW_LLM_BASE_URL, 'https://llm.example/v1');
    assert.equal(variables.SERVERLESS_OPENCLAW_LLM_API, 'openai-completions');
    assert.equal(variables.SERVERLESS_OPENCLAW_MODEL, 'qwen3-coder');
    assert.equal(variables.SERVERLESS_OPENCLAW_LLM_CONTEXT_WINDOW, '32768');
    const defaults = (resources(template)[logicalId(stack.agent.function)].Properties as any).Environment.Variables;
    assert.equal(defaults.SERVERLESS_OPENCLAW_LLM_CONTEXT_WINDOW, undefined, 'unset unless the deployment names it');
  });
});

describe('Telegram', () => {
  const webhook = () => functionProps(stack.telegram.webhook.function);

  it('takes POST /telegram/webhook without an authorizer, to telegram-webhook', () => {
    const route = httpRoutes().find((candidate) => candidate.RouteKey === TELEGRAM_ROUTE);
    assert.ok(route, `no ${TELEGRAM_ROUTE} route`);
    assert.equal(route.AuthorizationType, 'NONE');
    assert.equal(route.AuthorizerId, undefined);
    template.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
      ApiId: { Ref: logicalId(stack.gateway.httpApi) },
      IntegrationType: 'AWS_PROXY',
      IntegrationUri: { 'Fn::GetAtt': [logicalId(stack.telegram.webhook.function), 'Arn'] },
      PayloadFormatVersion: '2.0',
    });
  });

  it("runs telegram-webhook like the gateway functions, for at most 29 seconds: a file's download fits within the HTTP API's 30 s", () => {
    const props = webhook();
    assert.deepEqual(props.Architectures, ['arm64']);
    assert.equal(props.Runtime, 'provided.al2023');
    assert.equal(props.MemorySize, GATEWAY_MEMORY_MB);
    assert.equal(props.Timeout, 29);
  });

  it('tells telegram-webhook the tables, queue and web chats, the parameters of its secrets, and whom to accept', () => {
    const variables = webhook().Environment.Variables;
    assert.deepEqual(variables.SERVERLESS_OPENCLAW_CONVERSATIONS_TABLE, { Ref: logicalId(stack.storage.conversations) });
    assert.deepEqual(variables.SERVERLESS_OPENCLAW_CONNECTIONS_TABLE, { Ref: logicalId(stack.storage.connections) });
    assert.deepEqual(variables.SERVERLESS_OPENCLAW_LEASES_TABLE, { Ref: logicalId(stack.storage.leases) });
    assert.ok(variables.SERVERLESS_OPENCLAW_QUEUE_URL, 'queue URL');
    assert.ok(variables.SERVERLESS_OPENCLAW_WEBSOCKET_ENDPOINT, 'WebSocket endpoint');
    assert.equal(variables.SERVERLESS_OPENCLAW_TELEGRAM_TOKEN_PARAMETER, '/serverless-openclaw/ServerlessOpenClaw/telegram-bot-token');
    assert.equal(
      variables.SERVERLESS_OPENCLAW_TELEGRAM_SECRET_PARAMETER,
      '/serverless-openclaw/ServerlessOpenClaw/telegram-webhook-secret',
    );
    assert.equal(variables.SERVERLESS_OPENCLAW_TELEGRAM_ALLOWLIST, '');
    assert.equal(variables.TELEGRAM_BOT_TOKEN, undefined, 'no token value in the template');
  });

  it('passes the allowlist setting, normalised, and the model for /status', () => {
    const { stack: custom, template: customTemplate } = synthesize({
      telegramAllowlist: '1,22, 333',
      model: 'anthropic/claude-haiku-4-5',
    });
    const fn = resources(customTemplate)[logicalId(custom.telegram.webhook.function)];
    const variables = (fn.Properties as any).Environment.Variables;
    assert.equal(variables.SERVERLESS_OPENCLAW_TELEGRAM_ALLOWLIST, '1,22,333');
    assert.equal(variables.SERVERLESS_OPENCLAW_MODEL, 'anthropic/claude-haiku-4-5');
  });

  it('gives Telegram guests restricted tools unless the guestTools setting says full', () => {
    assert.equal(functionProps(stack.agent.function).Environment.Variables.SERVERLESS_OPENCLAW_GUEST_TOOLS, 'restricted');
    const { stack: open, template: openTemplate } = synthesize({ guestTools: 'full' });
    const fn = resources(openTemplate)[logicalId(open.agent.function)];
    assert.equal((fn.Properties as any).Environment.Variables.SERVERLESS_OPENCLAW_GUEST_TOOLS, 'full');
  });

  it('tells the agent which parameter holds the bot token, for streaming replies to Telegram', () => {
    const variables = functionProps(stack.agent.function).Environment.Variables;
    assert.equal(variables.SERVERLESS_OPENCLAW_TELEGRAM_TOKEN_PARAMETER, '/serverless-openclaw/ServerlessOpenClaw/telegram-bot-token');
    assert.equal(variables.SERVERLESS_OPENCLAW_TELEGRAM_SECRET_PARAMETER, undefined);
  });

  it('outputs the webhook URL: the API endpoint (no trailing slash) and /telegram/webhook', () => {
    template.hasOutput('TelegramWebhookUrl', {
      Value: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [logicalId(stack.gateway.httpApi), 'ApiEndpoint'] }, '/telegram/webhook']] },
    });
  });
});

describe('outputs', () => {
  it("name the topic of the owner's alarm email, whose confirmation make deploy reports", () => {
    const emails = Object.values(template.findResources('AWS::SNS::Subscription', { Properties: { Protocol: 'email' } }));
    assert.equal(emails.length, 1);
    template.hasOutput('AlarmTopicArn', { Value: emails[0].Properties.TopicArn });
  });
});

describe('turn queue', () => {
  it('is FIFO, deduplicated per message group, hidden six agent timeouts, kept 4 days, with a FIFO DLQ after 5 tries', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      FifoQueue: true,
      DeduplicationScope: 'messageGroup',
      FifoThroughputLimit: 'perMessageGroupId',
      VisibilityTimeout: 6 * 900,
      MessageRetentionPeriod: 4 * 24 * 3600,
      SqsManagedSseEnabled: true,
      RedrivePolicy: {
        maxReceiveCount: 5,
        deadLetterTargetArn: {
          'Fn::GetAtt': [logicalId(stack.deadLetters.node.scope!.node.findChild('TurnQueue').node.findChild('DeadLetters')), 'Arn'],
        },
      },
    });
    assert.ok(6 * 900 <= 12 * 3600, "within SQS's 12-hour ceiling");
    template.hasResourceProperties('AWS::SQS::Queue', { FifoQueue: true, MessageRetentionPeriod: 14 * 24 * 3600 });
    assert.equal(Object.keys(template.findResources('AWS::SQS::Queue', { Properties: { FifoQueue: true } })).length, 2);
  });

  it('lets the agent hand a busy turn back for a retry that spans a lease over the receives left', () => {
    const environment = functionProps(stack.agent.function).Environment.Variables;
    const busyRetry = Number(environment.SERVERLESS_OPENCLAW_BUSY_RETRY_SECS);
    assert.equal(busyRetry, 165);
    const leaseSeconds = Number(environment.SERVERLESS_OPENCLAW_TURN_TIMEOUT_SECS) + 60;
    assert.ok(busyRetry * (5 - 1) >= leaseSeconds, 'the last receive comes after any lease expired');
    assert.ok(busyRetry < 6 * 900, 'shorter than the queue visibility');
    assert.deepEqual(environment.SERVERLESS_OPENCLAW_QUEUE_URL, {
      Ref: logicalId(stack.deadLetters.node.scope!.node.findChild('TurnQueue').node.findChild('Turns')),
    });
  });
});

describe('dead letters', () => {
  const responder = () => stack.deadLetters.responder;

  it('runs dead-letters on each message of the dead-letter queue, reporting partial failures', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: logicalId(responder().function) },
      EventSourceArn: {
        'Fn::GetAtt': [logicalId(stack.deadLetters.node.scope!.node.findChild('TurnQueue').node.findChild('DeadLetters')), 'Arn'],
      },
      BatchSize: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    const props = functionProps(responder().function);
    assert.equal(props.Handler, 'bootstrap');
    assert.deepEqual(Object.keys(props.Environment.Variables).sort(), [
      'SERVERLESS_OPENCLAW_CONNECTIONS_TABLE',
      'SERVERLESS_OPENCLAW_CONVERSATIONS_TABLE',
      'SERVERLESS_OPENCLAW_TELEGRAM_TOKEN_PARAMETER',
      'SERVERLESS_OPENCLAW_WEBSOCKET_ENDPOINT',
    ]);
  });

  it('may read conversations, read and prune connections, post to them, read the bot token and consume the DLQ; nothing else', () => {
    const policy = Object.values(
      template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: logicalId(responder().role) }] } }),
    )[0];
    const statements = policy.Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown }>;
    const actions = statements.flatMap((statement) => [statement.Action].flat()).sort();
    assert.deepEqual(
      actions.filter((action) => !action.startsWith('dynamodb:') && !action.startsWith('logs:')),
      [
        'execute-api:ManageConnections',
        'sqs:ChangeMessageVisibility',
        'sqs:DeleteMessage',
        'sqs:GetQueueAttributes',
        'sqs:GetQueueUrl',
        'sqs:ReceiveMessage',
        'ssm:DescribeParameters',
        'ssm:GetParameter',
        'ssm:GetParameterHistory',
        'ssm:GetParameters',
      ],
    );
    // Writes only to the connections table (a gone connection is forgotten), never to conversations.
    for (const statement of statements) {
      const writes = [statement.Action].flat().filter((action) => /^dynamodb:(Put|Update|Delete|BatchWrite)/.test(action));
      if (writes.length === 0) continue;
      assert.doesNotMatch(
        JSON.stringify(statement.Resource),
        new RegExp(logicalId(stack.storage.conversations)),
        'no writes to conversations',
      );
    }
  });
});

describe('web', () => {
  it('serves the private bucket through CloudFront with origin access control and an SPA fallback', () => {
    template.resourceCountIs('AWS::CloudFront::OriginAccessControl', 1);
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        DefaultRootObject: 'index.html',
        DefaultCacheBehavior: Match.objectLike({ ViewerProtocolPolicy: 'redirect-to-https' }),
        Origins: [Match.objectLike({ OriginAccessControlId: Match.anyValue(), S3OriginConfig: { OriginAccessIdentity: '' } })],
        CustomErrorResponses: [403, 404].map((code) => ({
          ErrorCode: code,
          ResponseCode: 200,
          ResponsePagePath: '/index.html',
          ErrorCachingMinTTL: 0,
        })),
      }),
    });
  });

  it("sends a content security policy that allows only this region's APIs, Cognito and S3", () => {
    const policy = Object.values(template.findResources('AWS::CloudFront::ResponseHeadersPolicy'))[0];
    const csp = JSON.stringify(policy.Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig.ContentSecurityPolicy);
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(csp, /wss:\/\/\*\.execute-api\./);
    assert.match(csp, /https:\/\/cognito-idp\./);
    assert.match(csp, /https:\/\/\*\.s3\./, 'uploads go straight to S3 in this region');
    assert.match(csp, /img-src 'self' data: blob: https:\/\/\*\.s3\./, 'images are shown from their S3 download links');
    assert.match(csp, /media-src 'self' https:\/\/\*\.s3\./, 'audio is played from its S3 download link');
    assert.doesNotMatch(csp, /media-src[^;]*blob:/, 'audio is no longer fetched into blobs');
  });
});

describe('schedules and monitoring', () => {
  it('runs the watchdog every 15 minutes', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(15 minutes)',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [logicalId(stack.schedules.watchdog.function), 'Arn'] } })],
    });
  });

  it('lets the watchdog close expired connections through the Management API', () => {
    const watchdog = stack.schedules.watchdog;
    assert.deepEqual(Object.keys(functionProps(watchdog.function).Environment.Variables).sort(), [
      'SERVERLESS_OPENCLAW_CONNECTIONS_TABLE',
      'SERVERLESS_OPENCLAW_CONVERSATIONS_TABLE',
      'SERVERLESS_OPENCLAW_LEASES_TABLE',
      'SERVERLESS_OPENCLAW_WEBSOCKET_ENDPOINT',
    ]);
    const policy = Object.values(
      template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: logicalId(watchdog.role) }] } }),
    )[0];
    const actions = (policy.Properties.PolicyDocument.Statement as Array<{ Action: string | string[] }>)
      .flatMap((statement) => [statement.Action].flat())
      .filter((action) => !action.startsWith('dynamodb:') && !action.startsWith('logs:'));
    assert.deepEqual(actions, ['execute-api:ManageConnections']);
  });

  it('lets the watchdog reach the conversations table and its index, which its search backfill writes', () => {
    const variables = functionProps(stack.schedules.watchdog.function).Environment.Variables;
    assert.deepEqual(variables.SERVERLESS_OPENCLAW_CONVERSATIONS_TABLE, { Ref: logicalId(stack.storage.conversations) });
    const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((policy) =>
      JSON.stringify(policy.Properties.Roles).includes(logicalId(stack.schedules.watchdog.role)),
    );
    const conversations = logicalId(stack.storage.conversations);
    const granted = JSON.stringify(policies);
    assert.match(granted, /dynamodb:UpdateItem/);
    assert.ok(granted.includes(`{"Fn::GetAtt":["${conversations}","Arn"]},"/index/*"`), granted);
  });

  const alarms = () => Object.entries(template.findResources('AWS::CloudWatch::Alarm')).map(([id, alarm]) => ({ id, ...alarm.Properties }));

  it('emails every alarm to the owner, quiet when there is no data', () => {
    for (const alarm of alarms()) {
      assert.equal(alarm.AlarmActions.length, 1, alarm.id);
      assert.equal(alarm.TreatMissingData, 'notBreaching', alarm.id);
      assert.equal(alarm.ComparisonOperator, 'GreaterThanOrEqualToThreshold', alarm.id);
    }
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: { Ref: 'OwnerEmail' } });
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });

  it("alarms on failed turns by error code, from the agent's TurnFailed metric", () => {
    const failed = alarms().filter((alarm) => alarm.MetricName === 'TurnFailed');
    assert.deepEqual(failed.map((alarm) => alarm.Dimensions.find((d: any) => d.Name === 'ErrorCode').Value).sort(), [
      'agent_crashed',
      'internal',
      'llm_error',
      'no_provider',
      'timeout',
    ]);
    for (const alarm of failed) {
      assert.equal(alarm.Namespace, 'ServerlessOpenClaw');
      assert.deepEqual(alarm.Dimensions.map((d: any) => d.Name).sort(), ['ErrorCode', 'Function']);
      assert.equal(alarm.Dimensions.find((d: any) => d.Name === 'Function').Value, 'agent');
      assert.equal(alarm.Statistic, 'Sum');
      assert.equal(alarm.Threshold, 1);
    }
  });

  it('alarms on a turn reaching the dead-letter queue, one left unanswered there, and a turn queue that stopped moving', () => {
    const queueAlarm = (metric: string, queue: string) =>
      alarms().find(
        (alarm) =>
          alarm.Namespace === 'AWS/SQS' &&
          alarm.MetricName === metric &&
          JSON.stringify(alarm.Dimensions).includes(
            logicalId(stack.deadLetters.node.scope!.node.findChild('TurnQueue').node.findChild(queue)),
          ),
      );
    assert.equal(queueAlarm('NumberOfMessagesReceived', 'DeadLetters')?.Threshold, 1);
    assert.equal(queueAlarm('ApproximateAgeOfOldestMessage', 'DeadLetters')?.Threshold, 3600);
    assert.equal(queueAlarm('ApproximateAgeOfOldestMessage', 'Turns')?.Threshold, 1800);
  });

  it("alarms on the errors of every function, the agent's throttles, stuck turns, and both APIs' 5xx", () => {
    const lambdaErrors = alarms()
      .filter((alarm) => alarm.Namespace === 'AWS/Lambda' && alarm.MetricName === 'Errors')
      .map((alarm) => alarm.Dimensions[0].Value.Ref as string)
      .sort();
    const functions = Object.keys(template.findResources('AWS::Lambda::Function')).filter(
      (id) => !id.startsWith('Custom') && !id.includes('AwsCliLayer') && !id.startsWith('BucketNotifications'),
    );
    assert.deepEqual(lambdaErrors, functions.sort());
    assert.ok(alarms().some((alarm) => alarm.MetricName === 'Throttles' && alarm.Namespace === 'AWS/Lambda'));
    assert.equal(alarms().find((alarm) => alarm.MetricName === 'StuckTurns')?.Namespace, 'ServerlessOpenClaw');
    const http5xx = alarms().find((alarm) => alarm.MetricName === '5xx');
    assert.equal(http5xx?.Namespace, 'AWS/ApiGateway');
    assert.deepEqual(http5xx?.Dimensions, [{ Name: 'ApiId', Value: { Ref: logicalId(stack.gateway.httpApi) } }]);
    const websocket = alarms().find((alarm) => alarm.MetricName === 'ExecutionError');
    assert.equal(websocket?.Namespace, 'AWS/ApiGateway');
    assert.deepEqual(websocket?.Dimensions.map((d: any) => d.Name).sort(), ['ApiId', 'Stage']);
    assert.equal(alarms().length, 20, 'docs/cost.md prices 20 alarm metrics');
  });

  it('emails the owner from an AWS Budgets budget at the configured monthly amount', () => {
    template.hasParameter('MonthlyBudgetUsd', { Type: 'Number', Default: 10 });
    template.hasResourceProperties('AWS::Budgets::Budget', {
      Budget: { BudgetType: 'COST', TimeUnit: 'MONTHLY', BudgetLimit: { Amount: { Ref: 'MonthlyBudgetUsd' }, Unit: 'USD' } },
      NotificationsWithSubscribers: Match.arrayWith([
        Match.objectLike({ Subscribers: [{ SubscriptionType: 'EMAIL', Address: { Ref: 'OwnerEmail' } }] }),
      ]),
    });
  });
});
