// The browser tool's first call on one CPU (`make bench`, docs/benchmarks.md): a runner pinned to CPU 0
// (`taskset -c 0`, the share of a 2 GB Lambda) with the installed OpenClaw, a fake LLM that scripts
// `browser` calls, and a page served here. Each browsing turn opens the page twice and reads it: the
// first `open` starts Chromium (the runner stopped the previous turn's), the second reuses it. Prints
// one Markdown table row per measure (median and range over BENCH_REPS turns, default 5), from the
// durations the runner's `tool` lines report, and the peak memory (PSS) of Chromium's processes. Needs a Chromium (SERVERLESS_OPENCLAW_CHROMIUM, else
// `chromium` on PATH) and `taskset`.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { browserConfig, descendants, spawnRunner, runnerHome } from '../test/helpers.mjs';
import { startFakeLlm } from '../test/fake-llm.mjs';

const REPS = Number(process.env.BENCH_REPS ?? 5);
const chromium = process.env.SERVERLESS_OPENCLAW_CHROMIUM ?? execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim();

const page = http.createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/html' });
  res.end('<html><body><main><h1>Bench</h1><p>A page for the browser benchmark.</p></main></body></html>');
});
await /** @type {Promise<void>} */ (new Promise((resolve) => page.listen(0, '127.0.0.1', resolve)));
const url = `http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (page.address()).port}/`;
const fake = await startFakeLlm();
const { root, env } = runnerHome(() => browserConfig(chromium));
const r = spawnRunner(env);
// Pinned after spawn, every thread (`-a`): the runner, and Chromium and everything else it starts, inherit CPU 0.
execFileSync('taskset', ['-a', '-p', '-c', '0', String(r.child.pid)], { stdio: 'ignore' });
const llm = {
  providerId: 'custom', model: 'bench', apiKey: 'sk-bench',
  provider: { baseUrl: fake.url, api: 'anthropic-messages', models: [{ id: 'bench', name: 'bench', input: ['text', 'image'], contextWindow: 200000, maxTokens: 8192 }] },
};
/**
 * The summed PSS (MiB) of every process below `pid`: Chromium and its helpers, which are all the runner
 * starts here. PSS splits the pages they share among them (their RSS would count Chromium's libraries
 * once per process), so the sum is what they add to the machine's memory.
 * @param {number} pid
 */
function descendantsPssMib(pid) {
  let kib = 0;
  for (const { pid: child } of descendants(pid)) {
    try {
      kib += Number(/^Pss:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${child}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
    } catch {
      /* gone */
    }
  }
  return Math.round(kib / 1024);
}

/** @type {Record<string, number[]>} */
const measured = { first: [], again: [], text: [], turn: [], rss: [] };
try {
  await r.waitFor((l) => l.type === 'ready', 300_000);
  await r.waitFor((l) => l.type === 'warm', 300_000);
  for (let n = 1; n <= REPS; n++) {
    const id = `bench-${n}`;
    fake.toolCalls.push(
      [{ name: 'browser', input: { action: 'open', url } }],
      [{ name: 'browser', input: { action: 'open', url } }],
      [{ name: 'browser', input: { action: 'text', maxChars: 2000 } }],
    );
    r.send({
      type: 'run', id, sessionId: id, transcriptPath: path.join(root, `${id}.jsonl`), transcriptOutPath: path.join(root, `${id}.out.jsonl`),
      workspaceDir: path.join(root, 'ws'), prompt: 'browse', timeoutMs: 300_000, disableTools: false, llm,
    });
    let peak = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, descendantsPssMib(/** @type {number} */ (r.child.pid)));
    }, 100);
    const result = await r.waitFor((l) => l.id === id && (l.type === 'result' || l.type === 'error'), 400_000).finally(() => clearInterval(sampler));
    measured.rss?.push(peak);
    if (result.type !== 'result') throw new Error(`turn ${id} failed: ${JSON.stringify(result)}`);
    const ends = r.lines.map((l) => JSON.parse(l)).filter((l) => l.id === id && l.type === 'tool' && l.status !== 'running');
    if (ends.length !== 3 || ends.some((l) => l.status !== 'ok')) throw new Error(`unexpected tool lines: ${JSON.stringify(ends)}`);
    measured.first?.push(ends[0].durationMs);
    measured.again?.push(ends[1].durationMs);
    measured.text?.push(ends[2].durationMs);
    measured.turn?.push(result.durationMs);
  }
} finally {
  r.kill();
  await fake.close();
  page.close();
}

/** @param {number[]} values */
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const labels = {
  first: 'first `open` of a turn (Chromium start + page), ms',
  again: 'second `open` (Chromium running), ms',
  text: '`text` (read the page), ms',
  turn: 'whole browsing turn (3 calls, stop and wipe included), ms',
  rss: "Chromium's peak PSS during the turn, MiB (all its processes)",
};
console.log(`| measure (CPU 0, ${REPS} turns) | median | min–max |`);
console.log('|---|---|---|');
for (const [key, label] of Object.entries(labels)) {
  const values = measured[key] ?? [];
  console.log(`| ${label} | ${median(values)} | ${Math.min(...values)}–${Math.max(...values)} |`);
}
process.exit(0);
