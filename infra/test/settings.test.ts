// Context settings: defaults, and a clear error for each bad value before anything is built.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App } from 'aws-cdk-lib';
import { settingsFromContext } from '../lib/settings.ts';

const settings = (context: Record<string, string>) => settingsFromContext(new App({ context }).node);

describe('settings', () => {
  it('defaults to the Lambda runtime, Anthropic, closed sign-up, 5 concurrent turns, one vCPU for the agent and no SnapStart', () => {
    assert.deepEqual(settings({}), {
      stackName: 'ServerlessOpenClaw',
      agentRuntime: 'lambda',
      llmProvider: 'anthropic',
      model: undefined,
      llmBaseUrl: undefined,
      llmApi: undefined,
      llmContextWindow: undefined,
      selfSignUp: false,
      agentMaxConcurrency: 5,
      agentMemoryMb: 1769,
      transcriptRetentionDays: undefined,
      telegramAllowlist: [],
      guestTools: 'restricted',
      snapStart: false,
    });
  });

  it('reads the tools of Telegram guests: restricted by default, full only when asked, nothing else', () => {
    assert.equal(settings({ guestTools: 'full' }).guestTools, 'full');
    assert.throws(() => settings({ guestTools: 'all' }), /guestTools/);
  });

  it('reads the Telegram allowlist as numeric ids separated by commas', () => {
    const cases: Array<[string, string[]]> = [
      ['', []],
      ['1', ['1']],
      ['1,22, 333', ['1', '22', '333']],
      [' 12345 , 67890 ', ['12345', '67890']],
    ];
    for (const [telegramAllowlist, ids] of cases) {
      assert.deepEqual(settings({ telegramAllowlist }).telegramAllowlist, ids, telegramAllowlist);
    }
  });

  it('names a Telegram allowlist entry that is not a user id', () => {
    const cases: Array<[string, string]> = [
      ['abc', 'abc'],
      ['1;2', '1;2'],
      ['-5', '-5'],
      ['1.5', '1.5'],
      ['1,,2', ''],
      ['7,x8', 'x8'],
    ];
    for (const [value, bad] of cases) {
      assert.throws(
        () => settings({ telegramAllowlist: value }),
        (error: Error) =>
          error.message.includes(`"telegramAllowlist" is "${value}"`) && error.message.includes(`"${bad}" is not a Telegram user id`),
        value,
      );
    }
  });

  it('refuses the Fargate runtimes until they exist', () => {
    for (const agentRuntime of ['fargate', 'both']) {
      assert.throws(() => settings({ agentRuntime }), /only "lambda" is available/);
    }
  });

  it('names the bad setting and what is allowed', () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ agentRuntime: 'ec2' }, /"agentRuntime" is "ec2"; use one of lambda, fargate, both/],
      [{ llmProvider: 'gemini' }, /"llmProvider" is "gemini"; use one of anthropic, openai, compatible/],
      [{ llmProvider: 'compatible' }, /set "llmBaseUrl"/],
      [{ llmProvider: 'compatible', llmBaseUrl: 'http://plain.example' }, /https:\/\/ base URL/],
      [{ llmProvider: 'compatible', llmBaseUrl: 'https://llm.example' }, /set "model"/],
      [{ llmProvider: 'compatible', llmBaseUrl: 'https://llm.example', model: 'm', llmApi: 'grpc' }, /"llmApi" is "grpc"/],
      [
        { llmProvider: 'compatible', llmBaseUrl: 'https://llm.example', model: 'm', llmContextWindow: '32k' },
        /"llmContextWindow" is "32k"/,
      ],
      [{ llmProvider: 'compatible', llmBaseUrl: 'https://llm.example', model: 'm', llmContextWindow: '100' }, /from 1024/],
      [{ llmContextWindow: '32768' }, /only for "llmProvider": "compatible"/],
      [{ selfSignUp: 'yes' }, /"selfSignUp" is "yes"; use true or false/],
      [{ agentMaxConcurrency: '1' }, /"agentMaxConcurrency" is "1"; use a whole number from 2 to 1000/],
      [{ transcriptRetentionDays: '7' }, /from 31 to 36500/],
      [{ agentMemoryMb: '512' }, /"agentMemoryMb" is "512"; use a whole number from 1024 to 10240/],
      [{ stackName: 'my stack' }, /"stackName" is "my stack"/],
    ];
    for (const [context, message] of cases) assert.throws(() => settings(context), message, JSON.stringify(context));
  });
});
