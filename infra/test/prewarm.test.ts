// Waking the agent and SnapStart, checked on the template: exactly ws-connect and telegram-webhook may
// invoke the agent, and each is told to wake what the queue invokes (the function; with
// `snapStart=true`, the alias `live` on a SnapStart version: Lambda keeps environments per version, so
// waking another would warm an environment no turn reaches).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App } from 'aws-cdk-lib';
import { settingsFromContext, SettingsError } from '../lib/settings.ts';
import { logicalId, resources, synthesize, type Resource } from './synth.ts';

const list = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** `<policy id> <resource>` for every statement that allows lambda:InvokeFunction. */
function invokers(all: Record<string, Resource>): string[] {
  return Object.entries(all)
    .filter(([, resource]) => resource.Type === 'AWS::IAM::Policy')
    .flatMap(([id, resource]) =>
      ((resource.Properties as any).PolicyDocument.Statement as Array<Record<string, any>>)
        .filter((statement) => list(statement.Action).includes('lambda:InvokeFunction'))
        .map((statement) => `${id.replace(/[0-9A-F]{8}$/, '')} ${JSON.stringify(statement.Resource)}`),
    )
    .sort();
}

function variables(all: Record<string, Resource>, id: string): Record<string, unknown> {
  return (all[id].Properties as any).Environment.Variables;
}

describe('waking the agent', () => {
  const { stack, template } = synthesize();
  const all = resources(template);
  const agent = logicalId(stack.agent.function);
  const arn = { 'Fn::GetAtt': [agent, 'Arn'] };

  it('lets exactly ws-connect and telegram-webhook invoke the agent function itself', () => {
    assert.deepEqual(invokers(all), [
      `GatewayWsConnectRoleDefaultPolicy ${JSON.stringify(arn)}`,
      `TelegramWebhookRoleDefaultPolicy ${JSON.stringify(arn)}`,
    ]);
  });

  it('tells both to wake the function the queue invokes', () => {
    for (const fn of [stack.gateway.connect, stack.telegram.webhook]) {
      assert.deepEqual(variables(all, logicalId(fn.function)).SERVERLESS_OPENCLAW_AGENT_FUNCTION, arn);
    }
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { FunctionName: { Ref: agent } });
    for (const fn of [stack.gateway.functions[1], stack.gateway.functions[2], stack.gateway.functions[3]]) {
      assert.equal(variables(all, logicalId(fn.function)).SERVERLESS_OPENCLAW_AGENT_FUNCTION, undefined);
    }
  });

  it('drops a wake-up Lambda could not run within a minute, and never retries one', () => {
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: agent },
      Qualifier: '$LATEST',
      MaximumEventAgeInSeconds: 60,
      MaximumRetryAttempts: 0,
    });
  });

  it('publishes no version and takes no snapshot by default', () => {
    assert.equal((all[agent].Properties as any).SnapStart, undefined);
    template.resourceCountIs('AWS::Lambda::Alias', 0);
    template.resourceCountIs('AWS::Lambda::Version', 0);
  });
});

describe('snapStart=true', () => {
  const { stack, template } = synthesize({ snapStart: 'true' });
  const all = resources(template);
  const agent = logicalId(stack.agent.function);
  const aliases = Object.entries(all).filter(([, resource]) => resource.Type === 'AWS::Lambda::Alias');

  it('publishes versions with SnapStart, behind the alias live', () => {
    assert.deepEqual((all[agent].Properties as any).SnapStart, { ApplyOn: 'PublishedVersions' });
    assert.equal(aliases.length, 1);
    const alias = aliases[0][1].Properties as any;
    assert.equal(alias.Name, 'live');
    assert.deepEqual(alias.FunctionName, { Ref: agent });
    const version = all[alias.FunctionVersion['Fn::GetAtt'][0]];
    assert.equal(version.Type, 'AWS::Lambda::Version');
    assert.deepEqual((version.Properties as any).FunctionName, { Ref: agent });
    // A deploy that publishes a new version deletes the old one: each cached snapshot is billed.
    assert.equal(version.DeletionPolicy, undefined);
    assert.equal(version.UpdateReplacePolicy, undefined);
  });

  it('runs turns, wake-ups and their grants on the alias only', () => {
    const alias = { Ref: aliases[0][0] };
    // The turn queue's event source names the alias as `<function name>:live`, taken apart from the
    // alias ARN (the other mapping is the dead-letter queue's, to dead-letters).
    const mappings = Object.values(all).filter(
      (resource) =>
        resource.Type === 'AWS::Lambda::EventSourceMapping' &&
        !JSON.stringify((resource.Properties as any).FunctionName).includes(logicalId(stack.deadLetters.responder.function)),
    );
    assert.equal(mappings.length, 1);
    const target = JSON.stringify((mappings[0].Properties as any).FunctionName);
    assert.ok(target.includes(JSON.stringify(alias)) && target.includes('":live"'), target);
    for (const fn of [stack.gateway.connect, stack.telegram.webhook]) {
      assert.deepEqual(variables(all, logicalId(fn.function)).SERVERLESS_OPENCLAW_AGENT_FUNCTION, alias);
    }
    assert.deepEqual(invokers(all), [
      `GatewayWsConnectRoleDefaultPolicy ${JSON.stringify(alias)}`,
      `TelegramWebhookRoleDefaultPolicy ${JSON.stringify(alias)}`,
    ]);
    const configs = Object.values(all).filter((resource) => resource.Type === 'AWS::Lambda::EventInvokeConfig');
    assert.equal(configs.length, 1);
    const config = configs[0].Properties as any;
    assert.deepEqual(config.FunctionName, { Ref: agent });
    assert.ok(JSON.stringify(config.Qualifier).includes(JSON.stringify(alias)), JSON.stringify(config.Qualifier));
    assert.equal(config.MaximumEventAgeInSeconds, 60);
    assert.equal(config.MaximumRetryAttempts, 0);
  });

  it('takes true or false only', () => {
    const app = new App({ context: { snapStart: 'yes' } });
    assert.throws(() => settingsFromContext(app.node), SettingsError);
  });
});
