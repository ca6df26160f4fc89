// The runner's warm-up against the installed OpenClaw: it runs only when no real run is there, never
// reaches the LLM the host configured, leaves no files behind, and gives way to a real run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnRunner, runnerHome, filesUnder } from './helpers.mjs';
import { startFakeLlm, FAKE_REPLY } from './fake-llm.mjs';

/**
 * @import { FakeLlm } from './fake-llm.mjs'
 * @import { Line, Runner, RunnerHome } from './helpers.mjs'
 */

/** The prompt of the warm-up turn (lib/warmup.mjs): no file may keep it. */
const WARMUP_PROMPT = 'Reply with one word.';

/**
 * @param {(runner: { r: Runner, fake: FakeLlm, home: RunnerHome, run: (id: string) => object, outcome: (id: string) => Promise<Line> }) => Promise<void>} body
 */
async function withRunner(body) {
  const fake = await startFakeLlm();
  const home = runnerHome((dirs) => ({
    agents: { defaults: { model: { primary: 'custom/fake-model' } }, entries: { main: {} } },
    models: {
      catalogRefresh: { enabled: false },
      providers: {
        custom: {
          baseUrl: fake.url, apiKey: '${SERVERLESS_OPENCLAW_LLM_API_KEY}', api: 'anthropic-messages',
          models: [{ id: 'fake-model', name: 'fake-model', input: ['text'], contextWindow: 200000, maxTokens: 8192 }],
        },
      },
    },
    update: { checkOnStart: false, auto: { enabled: false } },
    telemetry: { enabled: false },
    logging: { file: path.join(dirs.state, 'logs', 'openclaw.log') },
  }));
  const r = spawnRunner({ ...home.env, SERVERLESS_OPENCLAW_LLM_API_KEY: 'sk-test' });
  /** @param {string} id */
  const run = (id) => ({
    type: 'run', id, sessionId: `s-${id}`, transcriptPath: path.join(home.root, id, 'in.jsonl'),
    transcriptOutPath: path.join(home.root, id, 'out.jsonl'), workspaceDir: path.join(home.root, 'ws'),
    prompt: `prompt of ${id}`, timeoutMs: 90_000,
  });
  /** @param {string} id */
  const outcome = (id) => r.waitFor((l) => l.id === id && (l.type === 'result' || l.type === 'error'), 150_000);
  try {
    await body({ r, fake, home, run, outcome });
  } finally {
    r.send({ type: 'shutdown' });
    await Promise.race([r.exit, new Promise((resolve) => setTimeout(resolve, 5_000))]);
    r.kill();
    await fake.close();
    fs.rmSync(home.root, { recursive: true, force: true });
  }
}

test('an idle runner warms up against its own stub, leaves nothing behind, then runs turns', { timeout: 300_000 }, async () => {
  await withRunner(async ({ r, fake, home, run, outcome }) => {
    await r.waitFor((l) => l.type === 'ready', 120_000);
    const warm = await r.waitFor((l) => l.type === 'warm', 120_000);
    assert.equal(warm.ok, true, JSON.stringify(warm));
    assert.ok(Number.isInteger(warm.ms) && warm.ms > 0, JSON.stringify(warm));
    assert.match(r.stderr, /warm-up done in \d+ ms/);
    assert.equal(fake.requests.length, 0, 'the warm-up never reaches the configured LLM');
    assert.deepEqual(r.lines.map((l) => JSON.parse(l).type), ['ready', 'warm'], 'the warm-up writes only its `warm` line');
    assert.deepEqual(fs.readdirSync(home.dirs.tmp).filter((f) => f.startsWith('openclaw-warmup-')), [], 'its folder is removed');
    for (const file of filesUnder(home.root)) assert.ok(!fs.readFileSync(file).includes(WARMUP_PROMPT), `${file} keeps the warm-up's prompt`);

    r.send(run('t-1'));
    const line = await outcome('t-1');
    assert.equal(line.type, 'result', JSON.stringify(line));
    assert.equal(line.text, FAKE_REPLY);
    assert.equal(fake.requests.length, 1);
    // The transcript holds the real turn only.
    const transcript = fs.readFileSync(path.join(home.root, 't-1', 'out.jsonl'), 'utf8');
    assert.ok(transcript.includes('prompt of t-1') && !transcript.includes(WARMUP_PROMPT));
  });
});

test('a run sent at spawn runs at once and the runner does not warm up', { timeout: 300_000 }, async () => {
  await withRunner(async ({ r, run, outcome }) => {
    r.send(run('t-spawn'));
    const line = await outcome('t-spawn');
    assert.equal(line.type, 'result', JSON.stringify(line));
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.doesNotMatch(r.stderr, /warm-up/);
    assert.ok(!r.lines.some((l) => JSON.parse(l).type === 'warm'), 'no warm-up, no `warm` line');
  });
});

test('a run arriving during the warm-up ends the warm-up and succeeds', { timeout: 300_000 }, async () => {
  await withRunner(async ({ r, fake, run, outcome }) => {
    await r.waitFor((l) => l.type === 'ready', 120_000);
    // The warm-up starts 50 ms after ready and takes a second or more.
    await new Promise((resolve) => setTimeout(resolve, 150));
    r.send(run('t-during'));
    const line = await outcome('t-during');
    assert.equal(line.type, 'result', JSON.stringify(line));
    assert.equal(fake.requests.length, 1);
    await r.waitForStderr(/warm-up ended without a reply \(.*aborted.*\)/, 10_000);
    assert.equal((await r.waitFor((l) => l.type === 'warm', 10_000)).ok, false, 'an aborted warm-up ends with `warm` too');
    // And the runner stays usable.
    r.send(run('t-after'));
    assert.equal((await outcome('t-after')).type, 'result');
  });
});

test('a runner shut down during its warm-up removes the warm-up folder', { timeout: 300_000 }, async () => {
  await withRunner(async ({ r, home }) => {
    await r.waitFor((l) => l.type === 'ready', 120_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const warmupFolders = () => fs.readdirSync(home.dirs.tmp).filter((f) => f.startsWith('openclaw-warmup-'));
    assert.equal(warmupFolders().length, 1, 'the warm-up is running');
    r.send({ type: 'shutdown' });
    assert.equal((await r.exit).code, 0);
    assert.deepEqual(warmupFolders(), []);
  });
});
