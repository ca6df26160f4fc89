// A run's `thinkLevel` (the `/think` command) against the installed OpenClaw: each level reaches the
// provider as its own thinking request (a model declared able to reason, as the host declares it when it
// sends a level), not as text in the prompt.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnRunner, runnerHome } from './helpers.mjs';
import { startFakeLlm } from './fake-llm.mjs';

test('thinkLevel off, low and high reach Anthropic Messages as thinking disabled, a budget, a larger one', { timeout: 300_000 }, async () => {
  const fake = await startFakeLlm();
  const home = runnerHome((dirs) => ({
    agents: { entries: { main: {} } },
    models: { catalogRefresh: { enabled: false } },
    update: { checkOnStart: false, auto: { enabled: false } },
    telemetry: { enabled: false },
    logging: { file: path.join(dirs.state, 'logs', 'openclaw.log') },
  }));
  const r = spawnRunner(home.env);
  /**
   * @param {string} id
   * @param {string} [thinkLevel]
   */
  const turn = async (id, thinkLevel) => {
    const model = { id: 'e2e-model', name: 'e2e-model', input: ['text'], contextWindow: 200000, maxTokens: 32000, reasoning: true };
    r.send({
      type: 'run', id, sessionId: `s-${id}`, transcriptPath: path.join(home.root, id, 'in.jsonl'),
      transcriptOutPath: path.join(home.root, id, 'out.jsonl'), workspaceDir: path.join(home.root, 'ws'), prompt: `prompt of ${id}`,
      timeoutMs: 90_000, disableTools: true, ...(thinkLevel ? { thinkLevel } : {}),
      llm: { providerId: 'custom', model: 'e2e-model', apiKey: 'k-think', provider: { baseUrl: fake.url, api: 'anthropic-messages', models: [model] } },
    });
    const line = await r.waitFor((l) => l.id === id && (l.type === 'result' || l.type === 'error'), 150_000);
    assert.equal(line.type, 'result', JSON.stringify(line));
    return fake.requests.filter((q) => q.messages.includes(`prompt of ${id}`));
  };
  try {
    await r.waitFor((l) => l.type === 'ready', 120_000);
    /** @param {string} level */
    const thinking = async (level) => {
      const requests = await turn(`t-${level}`, level);
      assert.equal(requests.length, 1);
      assert.ok(!requests[0].messages.includes('/think'), 'a level, not text');
      return requests[0].thinking;
    };
    assert.deepEqual(await thinking('off'), { type: 'disabled' });
    const low = await thinking('low');
    const high = await thinking('high');
    assert.equal(low?.type, 'enabled', JSON.stringify(low));
    assert.equal(high?.type, 'enabled', JSON.stringify(high));
    assert.ok(high.budget_tokens > low.budget_tokens && low.budget_tokens > 0, JSON.stringify({ low, high }));
  } finally {
    r.send({ type: 'shutdown' });
    await Promise.race([r.exit, new Promise((resolve) => setTimeout(resolve, 5_000))]);
    r.kill();
    await fake.close();
    fs.rmSync(home.root, { recursive: true, force: true });
  }
});
