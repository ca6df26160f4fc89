// Long conversations against the installed OpenClaw: a conversation driven past its model's (small)
// context window is compacted by OpenClaw inside the turn, the stored transcript is the compacted one,
// and the next turn (in a new runner process) sends the model the summary instead of the dropped turns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnRunner, runnerHome } from './helpers.mjs';
import { startFakeLlm, SUMMARY } from './fake-llm.mjs';

/**
 * @import { FakeLlm } from './fake-llm.mjs'
 * @import { Runner, RunnerHome } from './helpers.mjs'
 */

/** The fake model: a context window OpenClaw accepts but a few dozen padded turns overflow. */
const MODEL = { id: 'small-model', name: 'small-model', input: ['text'], contextWindow: 16_384, maxTokens: 1_024 };
/** Padding that makes each prompt about 750 tokens (OpenClaw estimates 4 characters a token). */
const PADDING = ' lorem'.repeat(500);

/** @param {{ state: string }} dirs */
function config(dirs) {
  return {
    agents: { entries: { main: {} } },
    models: { catalogRefresh: { enabled: false } },
    update: { checkOnStart: false, auto: { enabled: false } },
    telemetry: { enabled: false },
    logging: { file: path.join(dirs.state, 'logs', 'openclaw.log') },
  };
}

/**
 * @param {RunnerHome} home
 * @param {FakeLlm} fake
 */
function conversation(home, fake) {
  const transcript = path.join(home.root, 'conv', 'transcript.jsonl');
  const workspaceDir = path.join(home.root, 'ws');
  const llm = { providerId: 'custom', model: MODEL.id, apiKey: 'k-compact', provider: { baseUrl: fake.url, api: 'anthropic-messages', models: [MODEL] } };
  return { transcript, workspaceDir, llm, base: { sessionId: 's-long', transcriptPath: transcript, transcriptOutPath: transcript, workspaceDir, llm } };
}

/**
 * @param {Runner} r
 * @param {ReturnType<typeof conversation>} conv
 * @param {string} id
 * @param {string} prompt
 */
async function turn(r, conv, id, prompt) {
  r.send({ type: 'run', id, ...conv.base, prompt, timeoutMs: 90_000, disableTools: true });
  return r.waitFor((l) => l.id === id && (l.type === 'result' || l.type === 'error'), 150_000);
}

/** @param {Runner} r */
async function stop(r) {
  r.send({ type: 'shutdown' });
  await Promise.race([r.exit, new Promise((resolve) => setTimeout(resolve, 5_000))]);
  r.kill();
}

/** The requests of turns (not compaction requests) the fake received since `from`. */
/** @param {FakeLlm} fake */
const turnRequests = (fake, from = 0) => fake.requests.slice(from).filter((q) => !q.summary);

test('a conversation past the context window is compacted, stored compacted, and the next turn sends the summary', { timeout: 600_000 }, async () => {
  const fake = await startFakeLlm();
  const home = runnerHome(config);
  const conv = conversation(home, fake);
  let r = spawnRunner(home.env);
  try {
    await r.waitFor((l) => l.type === 'ready', 120_000);
    let n = 0;
    while (!fake.requests.some((q) => q.summary) && n < 40) {
      n += 1;
      const line = await turn(r, conv, `t-${n}`, `TURN-${n}-MARKER${PADDING}`);
      assert.equal(line.type, 'result', JSON.stringify(line));
      assert.equal(line.text, 'Hello from fake.');
    }
    assert.ok(fake.requests.some((q) => q.summary), `no compaction after ${n} turns`);
    assert.match(r.stderr, /auto-compaction complete: runId=t-\d+ reason=threshold/);
    const stored = fs.readFileSync(conv.transcript, 'utf8');
    assert.match(stored, /"type":"compaction"/);
    assert.match(stored, /FAKE-SUMMARY-MARKER/);
    assert.ok(!stored.includes('TURN-1-MARKER'), 'the summarised turns are not stored any more');
    await stop(r);

    // The next turn, in another runner process (another invocation), starts from the stored transcript.
    r = spawnRunner(home.env);
    await r.waitFor((l) => l.type === 'ready', 120_000);
    const from = fake.requests.length;
    const line = await turn(r, conv, 'after', 'AFTER-COMPACTION');
    assert.equal(line.type, 'result', JSON.stringify(line));
    const [request] = turnRequests(fake, from);
    assert.match(request.messages, /AFTER-COMPACTION/);
    assert.match(request.messages, new RegExp(SUMMARY));
    assert.ok(!request.messages.includes('TURN-1-MARKER'), 'the model no longer sees the summarised turns');
    assert.match(request.messages, new RegExp(`TURN-${n}-MARKER`), 'the recent turns are kept');
  } finally {
    await stop(r);
    await fake.close();
    fs.rmSync(home.root, { recursive: true, force: true });
  }
});

test('compact compacts on demand; a failed summary leaves the stored transcript as it was', { timeout: 600_000 }, async () => {
  const fake = await startFakeLlm();
  const home = runnerHome(config);
  const conv = conversation(home, fake);
  const r = spawnRunner(home.env);
  /** @param {string} id */
  const compact = async (id, extra = {}) => {
    r.send({ type: 'compact', id, ...conv.base, timeoutMs: 60_000, ...extra });
    return r.waitFor((l) => l.id === id && (l.type === 'compacted' || l.type === 'error'), 120_000);
  };
  try {
    await r.waitFor((l) => l.type === 'ready', 120_000);
    const empty = await compact('c-empty');
    assert.equal(empty.type, 'compacted', JSON.stringify(empty));
    assert.equal(empty.compacted, false);
    assert.equal(fs.existsSync(conv.transcript), false, 'nothing written when there was nothing to compact');
    for (let n = 1; n <= 3; n++) assert.equal((await turn(r, conv, `t-${n}`, `TURN-${n}-MARKER${PADDING}`)).type, 'result');

    fake.setSummaryStatus(400);
    const before = fs.readFileSync(conv.transcript, 'utf8');
    const failed = await compact('c-fail');
    assert.equal(failed.type, 'error', JSON.stringify(failed));
    assert.ok(fake.requests.some((q) => q.summary), 'the summary was asked for');
    assert.equal(fs.readFileSync(conv.transcript, 'utf8'), before, 'the stored transcript is unchanged');
    assert.ok(!failed.message.includes('k-compact'), 'no key in the message');

    fake.setSummaryStatus(null);
    const summaries = fake.requests.filter((q) => q.summary).length;
    const done = await compact('c-ok', { instructions: 'FOCUS-ON-NUMBERS' });
    assert.equal(done.type, 'compacted', JSON.stringify(done));
    assert.equal(done.compacted, true);
    assert.ok(done.tokensAfter < done.tokensBefore, JSON.stringify(done));
    assert.ok(done.bytesAfter < done.bytesBefore && done.bytesBefore === Buffer.byteLength(before), JSON.stringify(done));
    const summaryRequest = fake.requests.filter((q) => q.summary)[summaries];
    assert.match(summaryRequest.messages, /TURN-1-MARKER/, 'the older turns are what is summarised');
    assert.match(summaryRequest.messages, /FOCUS-ON-NUMBERS/, 'the instructions reach the summary');
    const stored = fs.readFileSync(conv.transcript, 'utf8');
    assert.equal(Buffer.byteLength(stored), done.bytesAfter);
    assert.ok(!stored.includes('TURN-1-MARKER'));

    const from = fake.requests.length;
    assert.equal((await turn(r, conv, 'after', 'AFTER-COMPACT')).type, 'result');
    const [request] = turnRequests(fake, from);
    assert.match(request.messages, new RegExp(SUMMARY));
    assert.ok(!request.messages.includes('TURN-1-MARKER'));
  } finally {
    await stop(r);
    await fake.close();
    fs.rmSync(home.root, { recursive: true, force: true });
  }
});
