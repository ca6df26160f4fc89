// The benchmark's baseline (docs/benchmarks.md): the simplest way to run one turn with OpenClaw, against
// which the real runner's cold start is measured. It imports OpenClaw's embedded agent the same way
// runner/runner.mjs does (dist/run-embedded.runtime.js by file URL, the run admission found by name in
// its hashed chunk, SessionManager, loadConfig), with none of the runner's start-up work: no compile
// cache, no resolver shortcut, no warm-up. Then it reads one `run` line from stdin (the runner protocol's
// shape), runs it, prints `ready`, `delta` and `result`/`error` lines like the runner, and exits.
//
// Environment: what the runner gets (OPENCLAW_CONFIG_PATH, state dirs, key variables), and
// SERVERLESS_OPENCLAW_OPENCLAW_DIR, the openclaw package root.

import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { pathToFileURL } from 'node:url';

const root = process.env.SERVERLESS_OPENCLAW_OPENCLAW_DIR;
const protocolWrite = process.stdout.write.bind(process.stdout);
// Like the runner: stdout carries the protocol only, OpenClaw's own output goes to stderr.
process.stdout.write = process.stderr.write.bind(process.stderr);
const send = (line) => protocolWrite(`${JSON.stringify(line)}\n`);
const load = (file) => import(pathToFileURL(path.join(root, file)).href);

const { runEmbeddedAgent } = await load('dist/run-embedded.runtime.js');
let prepareSystemAgentRunAdmission;
for (const file of fs.readdirSync(path.join(root, 'dist')).filter((f) => /^admitted-run-context-.+\.mjs$/.test(f))) {
  for (const value of Object.values(await load(path.join('dist', file)))) {
    if (typeof value === 'function' && value.name === 'prepareSystemAgentRunAdmission') prepareSystemAgentRunAdmission = value;
  }
}
const { SessionManager } = await load('dist/plugin-sdk/agent-sessions.js');
const { loadConfig } = await load('dist/index.js');
const config = loadConfig();
send({ type: 'ready' });

const req = JSON.parse(await new Promise((resolve) => readline.createInterface({ input: process.stdin }).once('line', resolve)));
const runConfig = { ...config, agents: { ...config.agents, entries: { ...config.agents.entries, main: { ...config.agents.entries.main, workspace: req.workspaceDir } } } };
fs.mkdirSync(req.workspaceDir, { recursive: true });
try {
  const result = await runEmbeddedAgent({
    preparedRunAdmission: prepareSystemAgentRunAdmission(runConfig, req.id, 'main', 'serverless-openclaw.naive-runner'),
    runId: req.id,
    agentId: 'main',
    sessionId: req.sessionId,
    sessionManager: SessionManager.inMemory(req.workspaceDir),
    sessionPersistence: 'detached',
    workspaceDir: req.workspaceDir,
    config: runConfig,
    prompt: req.prompt,
    provider: req.provider,
    model: req.model,
    timeoutMs: req.timeoutMs,
    disableTools: req.disableTools,
    trigger: 'user',
    onPartialReply: (partial) => send({ type: 'delta', id: req.id, text: partial.delta ?? partial.text }),
  });
  send({ type: 'result', id: req.id, text: (result.payloads ?? []).map((p) => p.text ?? '').join('') });
} catch (err) {
  send({ type: 'error', id: req.id, code: 'internal', message: String(err?.message ?? err) });
}
// OpenClaw leaves workers and timers behind.
process.exit(0);
