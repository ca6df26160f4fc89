#!/usr/bin/env node
// serverless-openclaw runner: a long-lived Node process that embeds OpenClaw and speaks the
// JSON-lines protocol of docs/runner-protocol.md on stdin/stdout.
//
// Environment (see the doc): OPENCLAW_CONFIG_PATH, OPENCLAW_STATE_DIR, OPENCLAW_HOME, TMPDIR,
// SQLITE_TMPDIR, NODE_COMPILE_CACHE, the provider key variables the config refers to, and optionally
// SERVERLESS_OPENCLAW_OPENCLAW_DIR (openclaw package root; default: resolved from here).
//
// `node runner.mjs --prime` fills the compile cache named by NODE_COMPILE_CACHE (an image build step):
// it loads OpenClaw, runs the warm-up turn with a built-in config, writes the cache and exits.

// Must stay the first import: redirects all non-protocol stdout output to stderr before OpenClaw loads.
import { writeLine, logErr } from './lib/stdio-guard.mjs';
import process from 'node:process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { setUpCompileCache, flushCompileCache } from './lib/compile-cache.mjs';
import { loadOpenClaw, resolveOpenClawRoot, IncompatibleOpenClaw, EXPECTED_OPENCLAW_VERSION } from './lib/openclaw-loader.mjs';
import { parseRequest, BadRequest } from './lib/protocol.mjs';
import { createTurnRunner } from './lib/turns.mjs';
import { createPreparedRuntimes } from './lib/prepared-runtimes.mjs';
import { startWarmup } from './lib/warmup.mjs';
import { preparePrimeEnvironment } from './lib/prime.mjs';
import { installResolveCache } from './lib/resolve-cache.mjs';
import { messageOf } from './lib/errors.mjs';

const EXIT_CONFIG = 78; // EX_CONFIG
/**
 * How long after `ready` the runner waits for a run before it warms up. A host with a turn waiting
 * sends it right after `ready` (the agent Lambda on a cold start): that turn should not share the CPU
 * with a warm-up that would only duplicate its work.
 */
const WARMUP_DELAY_MS = 50;

const startedAt = performance.now();
const priming = process.argv.includes('--prime');

/**
 * @param {string} code
 * @param {string} message
 * @returns {never}
 */
function fatal(code, message) {
  writeLine({ type: 'fatal', code, message });
  process.exit(EXIT_CONFIG);
}

// OpenClaw leaves background promises behind (e.g. after an abort); an unhandled rejection must
// not take the whole runner and every other turn down.
process.on('unhandledRejection', (reason) => logErr('unhandled rejection:', reason instanceof Error ? reason : String(reason)));
process.on('uncaughtException', (err) => logErr('uncaught exception:', err));

// Before anything of OpenClaw loads: everything compiled and resolved from here on can come from the
// caches kept in NODE_COMPILE_CACHE.
const cacheDir = process.env.NODE_COMPILE_CACHE;
const compileCache = setUpCompileCache({ log: logErr });
if (priming && !compileCache.persist) fatal('config_error', '--prime needs NODE_COMPILE_CACHE naming a writable directory');
const primeDirs = priming ? preparePrimeEnvironment(process.env) : null;
const resolutions = installResolveCache({
  dir: compileCache.dir ? cacheDir : null,
  writable: compileCache.persist,
  // A missing package is reported by loadOpenClaw below.
  nodeModules: (() => {
    try {
      return path.dirname(resolveOpenClawRoot(process.env));
    } catch {
      return null;
    }
  })(),
  log: logErr,
});

// Fail fast on a missing config file, before spending seconds importing OpenClaw. (OpenClaw itself
// silently falls back to built-in defaults when the file is missing.)
const configPath = process.env.OPENCLAW_CONFIG_PATH;
if (!configPath) fatal('config_error', 'OPENCLAW_CONFIG_PATH is not set');
if (!fs.existsSync(configPath)) fatal('config_error', 'the file named by OPENCLAW_CONFIG_PATH does not exist');

// Read requests from the start, while OpenClaw loads (module loading yields to the event loop): a run
// sent at spawn is then known before the warm-up would begin, and is started the moment OpenClaw is
// ready. Lines wait in `pending` until then.
/** @type {string[]} */
const pending = [];
/** @type {(line: string) => void} */
let handleLine = (line) => {
  pending.push(line);
};
/** @type {(why: string) => void} */
let shutdown = (why) => {
  logErr(`exiting before ready (${why})`);
  process.exit(0);
};
if (!priming) {
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });
  rl.on('line', (line) => handleLine(line));
  rl.on('close', () => shutdown('stdin closed'));
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

/** @type {import('./types.d.ts').OpenClaw} */
let oc;
try {
  oc = await loadOpenClaw(process.env);
} catch (err) {
  if (err instanceof IncompatibleOpenClaw) fatal('incompatible_openclaw', err.message);
  fatal('incompatible_openclaw', `runner expects openclaw ${EXPECTED_OPENCLAW_VERSION}: loading it failed: ${messageOf(err)}`);
}

/** @type {import('./types.d.ts').OpenClawConfig} */
let config;
try {
  // OpenClaw's own loader: reads OPENCLAW_CONFIG_PATH (JSON5), validates it against the schema,
  // resolves ${ENV} references and fills defaults.
  config = oc.loadConfig();
  if (!config || typeof config !== 'object') throw new Error('loadConfig returned no config');
  if (!config.agents?.entries?.main) throw new Error('config has no agents.entries.main');
} catch (err) {
  fatal('config_error', `cannot load the OpenClaw config: ${messageOf(err)}`);
}
const loadedMs = Math.round(performance.now() - startedAt);

if (priming) {
  const warmup = await startWarmup({ oc, config, logErr }).done;
  flushCompileCache();
  resolutions.save();
  if (primeDirs) fs.rmSync(primeDirs.root, { recursive: true, force: true });
  logErr(`primed ${compileCache.dir} in ${Math.round(performance.now() - startedAt)} ms (OpenClaw loaded in ${loadedMs} ms, warm-up ${JSON.stringify(warmup)})`);
  process.exit(warmup.ok ? 0 : 1);
}

// Runs with their own provider get agent dirs of their own (see createAgentDirNamer), next to
// OpenClaw's own `agents/` in its state dir.
const stateDir = process.env.OPENCLAW_STATE_DIR || path.join(process.env.OPENCLAW_HOME || os.homedir(), '.openclaw');
const turns = createTurnRunner({
  oc,
  config,
  writeLine,
  logErr,
  agentDirRoot: path.join(stateDir, 'run-agents'),
  stateDir,
  preparedRuntimes: createPreparedRuntimes(oc.acquireAgentRunPreparedModelRuntime, logErr),
});

/** @type {ReturnType<typeof startWarmup> | null} what startWarmup returned, while the warm-up runs */
let warmup = null;
let sawRun = false;
let cacheFlushed = !compileCache.persist;

/**
 * Writes the compile and resolution caches once, the first time the runner is idle after a turn or
 * the warm-up: it blocks the event loop for a moment, and a runner killed later (SIGKILL) would never
 * write them.
 */
function flushWhenIdle() {
  if (cacheFlushed || warmup || turns.inflightCount > 0) return;
  cacheFlushed = true;
  const t = performance.now();
  flushCompileCache();
  resolutions.save();
  logErr(`compile cache written to ${compileCache.dir} in ${Math.round(performance.now() - t)} ms`);
}

let shuttingDown = false;
shutdown = (why) => {
  if (shuttingDown) return;
  shuttingDown = true;
  logErr(`shutting down (${why}), ${turns.inflightCount} turn(s) in flight`);
  // The process exits before the warm-up could clean up after itself.
  warmup?.abort();
  warmup?.removeFilesNow();
  turns.abortAll(`runner shutting down (${why})`);
  // OpenClaw keeps workers and timers alive; exit explicitly. Protocol lines were written
  // synchronously (stdout is a pipe or file), so nothing is lost.
  process.exit(0);
};

handleLine = (line) => {
  if (shuttingDown) return;
  let req;
  try {
    req = parseRequest(line);
  } catch (err) {
    if (err instanceof BadRequest) {
      writeLine({ type: 'error', ...(err.id ? { id: err.id } : {}), code: 'bad_request', message: err.message });
      return;
    }
    writeLine({ type: 'error', code: 'internal', message: messageOf(err) });
    return;
  }
  if (!req) return;
  switch (req.type) {
    case 'run':
      sawRun = true;
      // The real run needs the CPU more than the warm-up, whose remaining work it does itself.
      warmup?.abort();
      turns
        .run(req)
        .catch((err) => logErr(`turn ${req.id}: unexpected failure`, err))
        .finally(flushWhenIdle);
      break;
    case 'compact':
      sawRun = true;
      warmup?.abort();
      turns
        .compact(req)
        .catch((err) => logErr(`compact ${req.id}: unexpected failure`, err))
        .finally(flushWhenIdle);
      break;
    case 'abort':
      turns.abort(req.id);
      break;
    case 'shutdown':
      shutdown('shutdown request');
      break;
  }
};

writeLine({
  type: 'ready',
  openclawVersion: oc.version,
  nodeVersion: process.version,
  startupMs: loadedMs,
});
logErr(`ready: openclaw ${oc.version} from ${oc.root}, imports ${JSON.stringify(oc.timings)}, compile cache ${compileCache.dir ?? 'off'}, resolution cache ${resolutions.state}`);
for (const line of pending.splice(0)) handleLine(line);

// The warm-up (see lib/warmup.mjs) runs only while no real run has been seen: a runner whose first
// turn is already here (sent at spawn, or right after `ready`) runs that turn instead.
setTimeout(() => {
  if (sawRun || shuttingDown) return;
  warmup = startWarmup({ oc, config, logErr });
  warmup.done.then((outcome) => {
    warmup = null;
    logErr(`warm-up ${outcome.ok ? 'done' : `ended without a reply (${outcome.message})`} in ${outcome.ms} ms`);
    // A host whose environment is frozen between invocations (Lambda) waits for this line: a warm-up
    // still running when the host goes idle would be left for the next real turn to pay.
    if (!shuttingDown) writeLine({ type: 'warm', ok: outcome.ok, ms: outcome.ms });
    flushWhenIdle();
  });
}, WARMUP_DELAY_MS);
