// Least privilege, checked on the template: no `*` action, no `*` resource except where AWS has no
// resource-level permission (listed below with the reason), no managed policies on our functions.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resources, synthesize } from './synth.ts';

/**
 * Actions that may name `Resource: "*"`, because AWS offers no resource-level permission for them.
 * Empty today: every statement in the template names its resources. A new entry needs its reason.
 */
const RESOURCE_STAR_ALLOWED: Readonly<Record<string, string>> = {};

/** The only managed policy, on the roles of CDK's deploy-time helper functions (not on ours). */
const BASIC_EXECUTION = 'service-role/AWSLambdaBasicExecutionRole';

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

function statements(template: ReturnType<typeof synthesize>['template']): Array<{ id: string; statement: Statement }> {
  const found: Array<{ id: string; statement: Statement }> = [];
  for (const [id, resource] of Object.entries(resources(template))) {
    const props = resource.Properties as Record<string, any> | undefined;
    const documents =
      resource.Type === 'AWS::IAM::Policy' || resource.Type === 'AWS::IAM::ManagedPolicy'
        ? [props?.PolicyDocument]
        : resource.Type === 'AWS::IAM::Role'
          ? ((props?.Policies ?? []) as Array<{ PolicyDocument: unknown }>).map((policy) => policy.PolicyDocument)
          : [];
    for (const document of documents) {
      for (const statement of (document as { Statement: Statement[] }).Statement) found.push({ id, statement });
    }
  }
  return found;
}

const list = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

describe('IAM', () => {
  const { template } = synthesize();
  const all = statements(template);

  it('has statements to check', () => {
    assert.ok(all.length > 20, `${all.length} statements`);
  });

  it('never allows every action of a service or of all services', () => {
    for (const { id, statement } of all) {
      for (const action of list(statement.Action)) {
        assert.ok(action !== '*' && !/^[a-z0-9-]+:\*$/.test(action), `${id} allows ${action}`);
      }
    }
  });

  it('names a resource in every statement, except for actions AWS cannot scope', () => {
    for (const { id, statement } of all) {
      if (!list(statement.Resource).includes('*')) continue;
      for (const action of list(statement.Action)) {
        assert.ok(action in RESOURCE_STAR_ALLOWED, `${id} allows ${action} on every resource`);
      }
    }
  });

  it('gives our functions no managed policies', () => {
    const roles = Object.entries(resources(template)).filter(([, resource]) => resource.Type === 'AWS::IAM::Role');
    for (const [id, role] of roles) {
      const managed = ((role.Properties as any).ManagedPolicyArns ?? []) as unknown[];
      if (managed.length === 0) continue;
      assert.ok(id.startsWith('Custom'), `${id} has managed policies`);
      assert.equal(managed.length, 1, id);
      assert.ok(
        JSON.stringify(managed[0]).endsWith(`:iam::aws:policy/${BASIC_EXECUTION}"]]}`) ||
          JSON.stringify(managed[0]).endsWith(`:iam::aws:policy/${BASIC_EXECUTION}"}`),
        `${id}: ${JSON.stringify(managed[0])}`,
      );
    }
  });

  it("lets the agent read the LLM key, the bot token and users' keys, http-api write users' keys, telegram-webhook and dead-letters read the bot token (and the webhook its secret), nobody else", () => {
    const reads = all
      .filter(({ statement }) => list(statement.Action).some((action) => action.startsWith('ssm:')))
      .flatMap(({ id, statement }) =>
        list(statement.Resource).map((resource) => {
          const name = /:parameter\/serverless-openclaw\/ServerlessOpenClaw\/([a-z/*-]+)"/.exec(JSON.stringify(resource));
          return `${id.replace(/[0-9A-F]{8}$/, '')} ${name?.[1] ?? JSON.stringify(resource)} ${list(statement.Action).sort().join(',')}`;
        }),
      )
      .sort();
    const read = 'ssm:DescribeParameters,ssm:GetParameter,ssm:GetParameterHistory,ssm:GetParameters';
    assert.deepEqual(reads, [
      `AgentRoleDefaultPolicy anthropic-api-key ${read}`,
      `AgentRoleDefaultPolicy telegram-bot-token ${read}`,
      // Users' own keys: the agent decrypts them, http-api only writes and lists them.
      'AgentRoleDefaultPolicy users/* ssm:GetParameter',
      `DeadLettersResponderRoleDefaultPolicy telegram-bot-token ${read}`,
      'GatewayHttpApiRoleDefaultPolicy users/* ssm:DeleteParameter,ssm:GetParametersByPath,ssm:PutParameter',
      `TelegramWebhookRoleDefaultPolicy telegram-bot-token ${read}`,
      `TelegramWebhookRoleDefaultPolicy telegram-webhook-secret ${read}`,
    ]);
  });

  it("lets only the agent and http-api touch the data bucket's objects (transcripts, workspaces, attachments), telegram-webhook only write and delete attachments and read workspaces, ws-message only read workspaces", () => {
    const onBucket = all
      .filter(({ statement }) => list(statement.Action).some((action) => action.startsWith('s3:') && action.includes('Object')))
      .filter(
        ({ statement }) =>
          JSON.stringify(statement.Resource).includes('DataBucket') || JSON.stringify(statement.Resource).includes('StorageData'),
      );
    const users = onBucket.map(({ id }) => id.replace(/[0-9A-F]{8}$/, ''));
    assert.deepEqual([...new Set(users)].sort(), [
      'AgentRoleDefaultPolicy',
      'GatewayHttpApiRoleDefaultPolicy',
      'GatewayWsMessageRoleDefaultPolicy',
      'TelegramWebhookRoleDefaultPolicy',
    ]);
    /** A read-only statement on the workspaces prefix (`/skills`, `/skill`). */
    const readsWorkspaces = (statement: Statement) =>
      list(statement.Action).every(
        (action) => action.startsWith('s3:GetObject') || action.startsWith('s3:GetBucket') || action.startsWith('s3:List'),
      ) && /\/workspaces\/\*/.test(JSON.stringify(statement.Resource));
    const webhook = onBucket.filter(({ id }) => id.startsWith('TelegramWebhookRoleDefaultPolicy'));
    for (const { statement } of webhook) {
      if (readsWorkspaces(statement)) continue;
      assert.ok(
        list(statement.Action).every(
          (action) => action.startsWith('s3:PutObject') || action.startsWith('s3:DeleteObject') || action.startsWith('s3:Abort'),
        ),
        JSON.stringify(statement.Action),
      );
      assert.match(JSON.stringify(statement.Resource), /\/attachments\/\*/);
    }
    const message = onBucket.filter(({ id }) => id.startsWith('GatewayWsMessageRoleDefaultPolicy'));
    assert.ok(message.length > 0 && message.every(({ statement }) => readsWorkspaces(statement)), JSON.stringify(message));
    // http-api: its attachments, the uploads it presigns and checks, deleting transcripts, and users' skills
    // (in their workspaces).
    const api = onBucket.filter(({ id }) => id.startsWith('GatewayHttpApiRoleDefaultPolicy'));
    assert.ok(api.length > 0);
    for (const { statement } of api) {
      const objects = list(statement.Resource as unknown[])
        .map((resource) => JSON.stringify(resource))
        .filter((resource) => resource.includes('/'));
      assert.ok(objects.length > 0, JSON.stringify(statement.Resource));
      for (const resource of objects) assert.match(resource, /\/(attachments|uploads|transcripts|workspaces)\/\*/, resource);
    }
  });

  it('lets only the functions that push to (or close) WebSocket connections manage them', () => {
    const pushers = all
      .filter(({ statement }) => list(statement.Action).includes('execute-api:ManageConnections'))
      .map(({ id }) => id.replace(/[0-9A-F]{8}$/, ''))
      .sort();
    assert.deepEqual(pushers, [
      'AgentRoleDefaultPolicy',
      'DeadLettersResponderRoleDefaultPolicy',
      'GatewayHttpApiRoleDefaultPolicy',
      'GatewayWsMessageRoleDefaultPolicy',
      'SchedulesWatchdogRoleDefaultPolicy',
      'TelegramWebhookRoleDefaultPolicy',
    ]);
  });
});
