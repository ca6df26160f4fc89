// End to end against the installed OpenClaw and an in-process fake LLM: runs with their own provider
// and key (`llm` on the run line) next to runs with the config's default. One runner start (~10 s on
// 2 cores) for all cases.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnRunner, runnerHome, filesUnder } from './helpers.mjs';
import { startFakeLlm, FAKE_REPLY } from './fake-llm.mjs';

const USER_KEYS = ['sk-user-compatible-1', 'sk-user-reject-2', 'sk-user-anthropic-3', 'sk-user-concurrent-4', 'sk-user-concurrent-5'];

test('runs with their own provider reach it with their key, which stays out of output and files', { timeout: 300_000 }, async () => {
  const fake = await startFakeLlm();
  // The default is a custom endpoint; the built-in anthropic provider is pointed at the fake too, so a
  // run that keeps it (catalog, prices) and only brings a key can be observed.
  const { root, env } = runnerHome((dirs) => ({
    agents: { defaults: { model: { primary: 'custom/default-model' } }, entries: { main: {} } },
    models: {
      catalogRefresh: { enabled: false },
      providers: {
        custom: {
          baseUrl: `${fake.url}/v1`, apiKey: '${SERVERLESS_OPENCLAW_LLM_API_KEY}', api: 'openai-completions',
          models: [{ id: 'default-model', name: 'default-model', input: ['text'], contextWindow: 200000, maxTokens: 8192 }],
        },
        anthropic: { baseUrl: fake.url },
      },
    },
    update: { checkOnStart: false, auto: { enabled: false } },
    telemetry: { enabled: false },
    logging: { file: path.join(dirs.state, 'logs', 'openclaw.log') },
  }));
  const r = spawnRunner({ ...env, ANTHROPIC_API_KEY: 'sk-deploy-anthropic', SERVERLESS_OPENCLAW_LLM_API_KEY: 'sk-deploy-custom' });
  let n = 0;
  /** @param {object} fields */
  const turn = async (fields) => {
    const id = `t-${++n}`;
    const prompt = `prompt of ${id}.`;
    r.send({
      type: 'run', id, sessionId: `s-${n}`, transcriptPath: path.join(root, id, 'in.jsonl'),
      transcriptOutPath: path.join(root, id, 'out.jsonl'), workspaceDir: path.join(root, 'ws'), prompt,
      timeoutMs: 90_000, disableTools: true, ...fields,
    });
    const line = await r.waitFor((l) => l.id === id && (l.type === 'result' || l.type === 'error'), 150_000);
    return { line, requests: fake.requests.filter((q) => q.messages.includes(prompt)) };
  };
  try {
    await r.waitFor((l) => l.type === 'ready', 120_000);

    const own = await turn({
      llm: {
        providerId: 'openai-compatible', model: 'e2e-model-b', apiKey: USER_KEYS[0],
        provider: { baseUrl: `${fake.url}/v1`, api: 'openai-completions', models: [{ id: 'e2e-model-b', name: 'e2e-model-b', input: ['text'], contextWindow: 200000, maxTokens: 8192 }] },
      },
    });
    assert.equal(own.line.type, 'result', JSON.stringify(own.line));
    assert.equal(own.line.text, FAKE_REPLY);
    assert.deepEqual([own.line.provider, own.line.model], ['openai-compatible', 'e2e-model-b']);
    assert.deepEqual(own.requests.map((q) => [q.path, q.model, q.authorization]), [['/v1/chat/completions', 'e2e-model-b', `Bearer ${USER_KEYS[0]}`]]);

    // A rejected key fails its own run and, unlike OpenClaw's default, puts no cooldown on the
    // provider: the next run's key for it is used at once.
    const rejected = await turn({ llm: { providerId: 'anthropic', model: 'claude-sonnet-5', apiKey: USER_KEYS[1] } });
    assert.equal(rejected.line.type, 'error', JSON.stringify(rejected.line));
    assert.equal(rejected.line.code, 'llm_error');
    assert.equal(rejected.requests.at(-1)?.xApiKey, USER_KEYS[1]);

    const builtIn = await turn({ llm: { providerId: 'anthropic', model: 'claude-sonnet-5', apiKey: USER_KEYS[2] } });
    assert.equal(builtIn.line.type, 'result', JSON.stringify(builtIn.line));
    assert.deepEqual(builtIn.requests.map((q) => [q.path, q.model, q.xApiKey]), [['/v1/messages', 'claude-sonnet-5', USER_KEYS[2]]]);
    assert.ok(builtIn.line.costUsd > 0, `the built-in catalog prices the turn: ${JSON.stringify(builtIn.line)}`);

    // Runs without `llm` still use the config's default: the earlier runs changed nothing shared.
    const byDefault = await turn({});
    assert.equal(byDefault.line.type, 'result', JSON.stringify(byDefault.line));
    assert.deepEqual(byDefault.requests.map((q) => [q.model, q.authorization]), [['default-model', 'Bearer sk-deploy-custom']]);

    // Concurrent runs of one provider and model in one workspace (one user's conversations), with
    // different keys and with the deployment's: each request carries its own run's key.
    const concurrent = await Promise.all([
      turn({ llm: { providerId: 'anthropic', model: 'claude-sonnet-5', apiKey: USER_KEYS[3] } }),
      turn({ llm: { providerId: 'anthropic', model: 'claude-sonnet-5', apiKey: USER_KEYS[4] } }),
      turn({}),
    ]);
    assert.deepEqual(
      concurrent.map(({ line, requests }) => [line.type, ...requests.map((q) => q.xApiKey ?? q.authorization)]),
      [['result', USER_KEYS[3]], ['result', USER_KEYS[4]], ['result', 'Bearer sk-deploy-custom']],
    );
  } finally {
    r.send({ type: 'shutdown' });
    await Promise.race([r.exit, new Promise((resolve) => setTimeout(resolve, 5_000))]);
    r.kill();
    await fake.close();
  }
  const output = `${r.lines.join('\n')}\n${r.stderr}`;
  for (const key of USER_KEYS) {
    assert.ok(!output.includes(key), `the runner printed ${key}`);
    for (const file of filesUnder(root)) assert.ok(!fs.readFileSync(file).includes(key), `${file} contains ${key}`);
  }
  fs.rmSync(root, { recursive: true, force: true });
});
