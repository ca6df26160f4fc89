import { describe, expect, it } from 'vitest';
import { parseRuntimeConfig, restUrl, socketUrl, type RuntimeConfig } from './runtimeConfig';

const aws = {
  version: 1,
  apiUrl: 'https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com',
  websocketUrl: 'wss://f6g7h8i9j0.execute-api.eu-west-1.amazonaws.com/live',
  auth: {
    kind: 'cognito',
    region: 'eu-west-1',
    userPoolId: 'eu-west-1_AbC123xyz',
    userPoolClientId: '1example23456789abcdefghij',
  },
};
const local = { version: 1, apiUrl: '/', websocketUrl: '/ws', auth: { kind: 'token' } };

describe('parseRuntimeConfig', () => {
  it('accepts what the CDK app writes on AWS', () => {
    expect(parseRuntimeConfig(aws)).toEqual(aws);
  });

  it('accepts what local mode serves', () => {
    expect(parseRuntimeConfig(local)).toEqual(local);
  });

  it('drops fields it does not know', () => {
    expect(parseRuntimeConfig({ ...local, extra: true })).toEqual(local);
  });

  it.each([
    ['not an object', [], 'config.json must be a JSON object'],
    ['another version', { ...aws, version: 2 }, 'config.json version 2 is not supported (expected 1)'],
    ['an API URL with a path', { ...aws, apiUrl: 'https://x.example/prod' }, 'apiUrl must be an http(s) origin or "/"'],
    ['a protocol-relative API URL', { ...aws, apiUrl: '//evil.example' }, 'apiUrl must be an http(s) origin or "/"'],
    ['a javascript: API URL', { ...aws, apiUrl: 'javascript:alert(1)' }, 'apiUrl must be an http(s) origin or "/"'],
    ['an https socket URL', { ...aws, websocketUrl: 'https://x.example/live' }, 'websocketUrl must be a ws(s) URL or a path'],
    ['a socket URL with a query', { ...aws, websocketUrl: 'wss://x.example/live?token=a' }, 'websocketUrl must be a ws(s) URL or a path'],
    ['no auth', { ...aws, auth: undefined }, 'auth must be an object'],
    ['an unknown auth kind', { ...aws, auth: { kind: 'oauth' } }, 'auth.kind must be "cognito" or "token"'],
    ['a bad region', { ...aws, auth: { ...aws.auth, region: 'Europe' } }, 'auth.region must be an AWS region'],
    [
      'a pool of another region',
      { ...aws, auth: { ...aws.auth, userPoolId: 'us-east-1_AbC123xyz' } },
      'auth.userPoolId must be a user pool id of auth.region',
    ],
    [
      'a client id with other characters',
      { ...aws, auth: { ...aws.auth, userPoolClientId: 'abc/def' } },
      'auth.userPoolClientId must be an app client id',
    ],
  ])('refuses %s', (_name, value, message) => {
    expect(parseRuntimeConfig(value)).toBe(message);
  });
});

describe('URLs from the config', () => {
  const page = 'https://d111111abcdef8.cloudfront.net/some/page?x=1';

  it('puts REST paths on the API origin', () => {
    const config = parseRuntimeConfig(aws) as RuntimeConfig;
    expect(restUrl(config, '/api/status', page)).toBe('https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/api/status');
  });

  it('puts REST paths on the page origin in local mode', () => {
    const config = parseRuntimeConfig(local) as RuntimeConfig;
    expect(restUrl(config, '/api/conversations/a/messages?limit=5', 'http://127.0.0.1:8080/')).toBe(
      'http://127.0.0.1:8080/api/conversations/a/messages?limit=5',
    );
  });

  it('adds the token to the socket URL, escaped', () => {
    const config = parseRuntimeConfig(aws) as RuntimeConfig;
    expect(socketUrl(config, 'a.b+c/d=', page)).toBe('wss://f6g7h8i9j0.execute-api.eu-west-1.amazonaws.com/live?token=a.b%2Bc%2Fd%3D');
  });

  it('opens ws:// or wss:// on the page origin in local mode', () => {
    const config = parseRuntimeConfig(local) as RuntimeConfig;
    expect(socketUrl(config, 't', 'http://127.0.0.1:8080/')).toBe('ws://127.0.0.1:8080/ws?token=t');
    expect(socketUrl(config, 't', 'https://box.example/')).toBe('wss://box.example/ws?token=t');
  });
});
