// Prepared model runtimes held across runs (lib/prepared-runtimes.mjs): which lease is kept, released
// and prepared again, against a recording stand-in for OpenClaw's acquire; then, end to end with the
// installed OpenClaw and the fake LLM, that a held runtime never lends one run's tool policy to a run
// with another in the same workspace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { createPreparedRuntimes } from '../lib/prepared-runtimes.mjs';
import { spawnRunner, runnerHome, toolModelConfig, toolModelLlm } from './helpers.mjs';
import { startFakeLlm } from './fake-llm.mjs';

/** A stand-in for acquireAgentRunPreparedModelRuntime recording what it prepared and what was released. */
function recordingAcquire() {
  /** @type {string[]} */
  const events = [];
  let current = true;
  let failNext = false;
  /** @param {{ config: { name: string }, workspaceDir: string }} params */
  const acquire = async (params) => {
    if (failNext) {
      failNext = false;
      throw new Error('cannot prepare');
    }
    const name = `${path.basename(params.workspaceDir)}:${params.config.name}`;
    events.push(`acquire ${name}`);
    return {
      snapshot: { isCurrent: () => current },
      [Symbol.asyncDispose]: async () => {
        events.push(`release ${name}`);
      },
    };
  };
  return {
    acquire,
    events,
    /** @param {boolean} value */
    setCurrent: (value) => {
      current = value;
    },
    failNext: () => {
      failNext = true;
    },
  };
}

/** @param {string} name */
const configNamed = (name) => ({ name, agents: { entries: { main: { agentDir: '/state/run-agents/a/agent' } } } });
/** @param {string} ws */
const runIn = (ws) => ({ agentId: 'main', workspaceDir: `/tmp/${ws}`, provider: 'custom', model: 'm' });

test('a runtime is prepared once per owner and config, prepared again when either changes or it is stale, and at most MAX are kept', async () => {
  const fake = recordingAcquire();
  /** @type {unknown[][]} */
  const logged = [];
  const held = createPreparedRuntimes(/** @type {any} */ (fake.acquire), (...parts) => logged.push(parts), 2);
  await held.hold(/** @type {any} */ (configNamed('full')), runIn('alice'));
  await held.hold(/** @type {any} */ (configNamed('full')), runIn('alice'));
  assert.deepEqual(fake.events, ['acquire alice:full'], 'the same owner and config reuse the held runtime');

  await held.hold(/** @type {any} */ (configNamed('restricted')), runIn('alice'));
  assert.deepEqual(fake.events.slice(1), ['release alice:full', 'acquire alice:restricted'], 'another config: released first');

  fake.setCurrent(false);
  await held.hold(/** @type {any} */ (configNamed('restricted')), runIn('alice'));
  assert.deepEqual(fake.events.slice(3), ['release alice:restricted', 'acquire alice:restricted'], 'stale: prepared again');
  fake.setCurrent(true);

  await held.hold(/** @type {any} */ (configNamed('full')), runIn('bob'));
  await held.hold(/** @type {any} */ (configNamed('full')), runIn('alice'));
  await held.hold(/** @type {any} */ (configNamed('full')), runIn('carol'));
  assert.deepEqual(
    fake.events.slice(5),
    ['acquire bob:full', 'release alice:restricted', 'acquire alice:full', 'acquire carol:full', 'release bob:full'],
    'over the cap the least recently used is released',
  );
  assert.equal(held.size, 2);

  fake.failNext();
  await held.hold(/** @type {any} */ (configNamed('full')), runIn('dave'));
  assert.equal(held.size, 2, 'a failed preparation holds nothing');
  assert.match(String(logged.at(-1)?.[0]), /the run prepares its own/);

  await held.hold(/** @type {any} */ ({ name: 'default' }), runIn('erin'));
  assert.equal(fake.events.length, 10, 'a run without its own agent dir holds nothing');
});

test('a held runtime never lends a full run tools to a restricted run in the same workspace', { timeout: 300_000 }, async () => {
  const fake = await startFakeLlm();
  const { root, env } = runnerHome(toolModelConfig);
  const r = spawnRunner(env);
  try {
    await r.waitFor((l) => l.type === 'ready', 120_000);
    /** @type {string[][]} the tools offered in each turn's request */
    const offered = [];
    for (const [i, tools] of /** @type {const} */ (['full', 'restricted', 'full', 'restricted']).entries()) {
      const before = fake.requests.length;
      r.send({
        type: 'run', id: `t-${i}`, sessionId: `s-${i}`, transcriptPath: path.join(root, `in-${i}.jsonl`), transcriptOutPath: path.join(root, `out-${i}.jsonl`),
        workspaceDir: path.join(root, 'ws'), prompt: 'hello', timeoutMs: 90_000, disableTools: false, tools,
        llm: toolModelLlm(fake.url, 'test-key-prepared'),
      });
      const result = await r.waitFor((l) => l.id === `t-${i}` && (l.type === 'result' || l.type === 'error'), 150_000);
      assert.equal(result.type, 'result', JSON.stringify(result));
      offered.push(fake.requests[before]?.tools ?? []);
    }
    const withExec = offered.map((names) => names.includes('exec'));
    assert.deepEqual(withExec, [true, false, true, false], `tools offered per turn: ${JSON.stringify(offered)}`);
  } finally {
    r.kill();
    await fake.close();
  }
});
