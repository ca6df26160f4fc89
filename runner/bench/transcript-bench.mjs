// Per-turn transcript load + store in the runner (`make bench`, docs/benchmarks.md): what each turn
// pays to read a conversation's stored transcript into OpenClaw's SessionManager (lib/transcript.mjs
// loadSession: read, parse, fromEntries) and to write the new one (writeTranscript: retained records,
// JSONL, fsync, rename), at 10, 100 and 1,000 turns, uncompacted and after one compaction that keeps
// the last 20 turns (what the runner stores once OpenClaw has compacted). Runs against the installed
// OpenClaw; prints one Markdown table row per case.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadOpenClaw } from '../lib/openclaw-loader.mjs';
import { loadSession, writeTranscript } from '../lib/transcript.mjs';

/** @import { OpenClaw } from '../types.d.ts' */

const TURNS = [10, 100, 1000];
const KEPT_TURNS = 20;
const REPS = Number(process.env.BENCH_REPS ?? 15);
/** A user message and a reply of typical chat length (about 300 and 900 characters). */
const USER_TEXT = 'Please look at the following and tell me what you think about it. '.repeat(5);
const REPLY_TEXT = 'Here is what I think, point by point, with the reasons for each of them. '.repeat(12);

/**
 * @param {'user' | 'assistant'} role
 * @param {string} text
 * @param {number} n
 */
function message(role, text, n) {
  const base = { role, content: [{ type: 'text', text: `${n}: ${text}` }], timestamp: Date.now() };
  if (role === 'user') return base;
  return { ...base, api: 'anthropic-messages', provider: 'custom', model: 'bench', stopReason: 'stop', usage: { input: 1000, output: 200, cacheRead: 0, cacheWrite: 0, totalTokens: 1200, cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, total: 0 } } };
}

/** Writes the transcript the runner would have stored after `turns` turns (see writeTranscript). */
/**
 * @param {OpenClaw} oc
 * @param {string} workspaceDir
 * @param {number} turns
 * @param {boolean} compacted
 * @param {string} file
 */
async function buildTranscript(oc, workspaceDir, turns, compacted, file) {
  const sm = oc.SessionManager.inMemory(workspaceDir);
  sm.appendModelChange('custom', 'bench');
  let keptFrom;
  for (let n = 1; n <= turns; n++) {
    const id = sm.appendMessage(message('user', USER_TEXT, n));
    if (n === turns - KEPT_TURNS + 1) keptFrom = id;
    sm.appendMessage(message('assistant', REPLY_TEXT, n));
  }
  if (compacted && keptFrom) sm.appendCompaction('A summary of the earlier conversation. '.repeat(50), keptFrom, 50_000, { readFiles: [], modifiedFiles: [] }, false);
  await writeTranscript(sm, file);
}

/** @param {number[]} xs */
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const oc = await loadOpenClaw(process.env);
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'transcript-bench-'));
try {
  console.log(`transcript load + store per turn, median of ${REPS}, Node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model})`);
  console.log('| turns | stored | size | load | store | load + store |');
  console.log('|---|---|---|---|---|---|');
  for (const turns of TURNS) {
    for (const compacted of [false, true]) {
      if (compacted && turns <= KEPT_TURNS) continue;
      const file = path.join(root, `t-${turns}-${compacted}.jsonl`);
      const req = { transcriptPath: file, workspaceDir: root };
      /** @type {number[]} */
      const loads = [];
      /** @type {number[]} */
      const stores = [];
      let size = 0;
      for (let i = 0; i < REPS; i++) {
        await buildTranscript(oc, root, turns, compacted, file);
        const t0 = performance.now();
        const sm = await loadSession(oc, req);
        const t1 = performance.now();
        // The turn itself: a prompt and a reply appended, as OpenClaw does during the run.
        sm.appendMessage(message('user', USER_TEXT, turns + 1));
        sm.appendMessage(message('assistant', REPLY_TEXT, turns + 1));
        const t2 = performance.now();
        await writeTranscript(sm, file);
        const t3 = performance.now();
        loads.push(t1 - t0);
        stores.push(t3 - t2);
        size = fs.statSync(file).size;
      }
      /** @param {number | undefined} x the median of REPS (≥ 1) measurements */
      const ms = (x) => `${(x ?? NaN).toFixed(1)} ms`;
      const stored = compacted ? `compacted, last ${KEPT_TURNS} turns kept` : 'whole';
      console.log(`| ${turns} | ${stored} | ${(size / 1024).toFixed(0)} KiB | ${ms(median(loads))} | ${ms(median(stores))} | ${ms(median(loads.map((l, i) => l + (stores[i] ?? 0))))} |`);
    }
  }
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
process.exit(0);
