// The web app's config.json, from the CDK side: the file the deployment writes, with CloudFormation's
// values filled in as they would be at deploy time, passes the web app's own parser
// (web/src/runtimeConfig.ts) and points at this stack's APIs and user pool.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseRuntimeConfig } from '../../web/src/runtimeConfig.ts';
import { logicalId, resources, synthesize } from './synth.ts';

const { app, stack, template } = synthesize();

/** What CloudFormation would answer for each reference, in a made-up deployment in eu-west-1. */
function deployedValues(): Record<string, string> {
  return {
    'AWS::Region': 'eu-west-1',
    'AWS::URLSuffix': 'amazonaws.com',
    [logicalId(stack.gateway.webSocketApi)]: 'wsapi12345',
    [`${logicalId(stack.gateway.httpApi)}.ApiEndpoint`]: 'https://httpapi123.execute-api.eu-west-1.amazonaws.com',
    [logicalId(stack.auth.userPool)]: 'eu-west-1_AbCdEf123',
    [logicalId(stack.auth.client)]: '4example5client6id7abcdefg',
  };
}

function resolve(expression: unknown, values: Record<string, string>): string {
  const value = expression as Record<string, any>;
  if (typeof expression === 'string') return expression;
  if ('Ref' in value) return values[value.Ref] ?? assert.fail(`no value for Ref ${value.Ref}`);
  if ('Fn::GetAtt' in value) {
    const key = (value['Fn::GetAtt'] as string[]).join('.');
    return values[key] ?? assert.fail(`no value for GetAtt ${key}`);
  }
  if ('Fn::Join' in value) {
    const [separator, parts] = value['Fn::Join'] as [string, unknown[]];
    return parts.map((part) => resolve(part, values)).join(separator);
  }
  return assert.fail(`cannot resolve ${JSON.stringify(expression)}`);
}

/** The config.json the deployment writes: the staged file with its markers replaced. */
function deployedConfig(): unknown {
  const deployments = Object.values(resources(template)).filter((r) => r.Type === 'Custom::CDKBucketDeployment');
  const entry = deployments.find((r) => JSON.stringify(r.Properties).includes('<<marker:'));
  assert.ok(entry, 'a deployment carries config.json');
  const props = entry.Properties as { SourceObjectKeys: unknown[]; SourceMarkers: Array<Record<string, unknown>> };
  const directory = app.synth().directory;
  const manifest = JSON.parse(readFileSync(join(directory, `${stack.artifactId}.assets.json`), 'utf8'));
  const index = props.SourceMarkers.findIndex((markers) => Object.keys(markers).length > 0);
  const key = JSON.stringify(props.SourceObjectKeys[index]);
  const hash = Object.keys(manifest.files).find((candidate) => key.includes(candidate));
  assert.ok(hash, 'the config.json asset is in the assembly');
  let text = readFileSync(join(directory, manifest.files[hash].source.path, 'config.json'), 'utf8');
  for (const [marker, expression] of Object.entries(props.SourceMarkers[index])) {
    text = text.replaceAll(marker, resolve(expression, deployedValues()));
  }
  return JSON.parse(text);
}

describe('config.json written by the deployment', () => {
  it("is accepted by the web app and names this stack's APIs and user pool", () => {
    const config = parseRuntimeConfig(deployedConfig());
    assert.deepEqual(config, {
      version: 1,
      apiUrl: 'https://httpapi123.execute-api.eu-west-1.amazonaws.com',
      websocketUrl: 'wss://wsapi12345.execute-api.eu-west-1.amazonaws.com/live',
      auth: {
        kind: 'cognito',
        region: 'eu-west-1',
        userPoolId: 'eu-west-1_AbCdEf123',
        userPoolClientId: '4example5client6id7abcdefg',
      },
    });
  });

  it('is revalidated on every load, next to the hashed assets kept for a year', () => {
    const metadata = Object.values(resources(template))
      .filter((r) => r.Type === 'Custom::CDKBucketDeployment')
      .map((r) => (r.Properties as any).SystemMetadata['cache-control'])
      .sort();
    assert.deepEqual(metadata, ['no-cache', 'public, max-age=31536000, immutable']);
  });
});
