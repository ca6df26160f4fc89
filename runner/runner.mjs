#!/usr/bin/env node
// serverless-openclaw runner: a long-lived Node process that embeds OpenClaw and speaks the
// JSON-lines protocol of docs/runner-protocol.md on stdin/stdout.
//
// Environment (see the doc): OPENCLAW_CONFIG_PATH, OPENCLAW_STATE_DIR, OPENCLAW_HOME, TMPDIR,
// SQLITE_TMPDIR, the provider key variables the config refers to, and optionally
// SERVERLESS_OPENCLAW_OPENCLAW_DIR (openclaw package root; default: resolved from here).

// Must stay the first import: redirects all non-protocol stdout output to stderr before OpenClaw loads.
import { writeLine, logErr } from './lib/stdio-guard.mjs';
import process from 'node:process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { loadOpenClaw, IncompatibleOpenClaw, EXPECTED_OPENCLAW_VERSION } from './lib/openclaw-loader.mjs';
import { parseRequest, BadRequest } from './lib/protocol.mjs';
import { createTurnRunner } from './lib/turns.mjs';

const EXIT_CONFIG = 78; // EX_CONFIG

const startedAt = performance.now();

function fatal(code, message) {
  writeLine({ type: 'fatal', code, message });
  process.exit(EXIT_CONFIG);
}

// OpenClaw leaves background promises behind (e.g. after an abort); an unhandled rejection must
// not take the whole runner and every other turn down.
process.on('unhandledRejection', (reason) => logErr('unhandled rejection:', reason instanceof Error ? reason : String(reason)));
process.on('uncaughtException', (err) => logErr('uncaught exception:', err));

// Fail fast on a missing config file, before spending seconds importing OpenClaw. (OpenClaw itself
// silently falls back to built-in defaults when the file is missing.)
const configPath = process.env.OPENCLAW_CONFIG_PATH;
if (!configPath) fatal('config_error', 'OPENCLAW_CONFIG_PATH is not set');
if (!fs.existsSync(configPath)) fatal('config_error', 'the file named by OPENCLAW_CONFIG_PATH does not exist');

let oc;
try {
  oc = await loadOpenClaw();
} catch (err) {
  if (err instanceof IncompatibleOpenClaw) fatal('incompatible_openclaw', err.message);
  fatal('incompatible_openclaw', `runner expects openclaw ${EXPECTED_OPENCLAW_VERSION}: loading it failed: ${err?.message ?? err}`);
}

let config;
try {
  // OpenClaw's own loader: reads OPENCLAW_CONFIG_PATH (JSON5), validates it against the schema,
  // resolves ${ENV} references and fills defaults.
  config = oc.loadConfig();
  if (!config || typeof config !== 'object') throw new Error('loadConfig returned no config');
  if (!config.agents?.entries?.main) throw new Error('config has no agents.entries.main');
} catch (err) {
  fatal('config_error', `cannot load the OpenClaw config: ${err?.message ?? err}`);
}

// Runs with their own provider get agent dirs of their own (see createAgentDirNamer), next to
// OpenClaw's own `agents/` in its state dir.
const stateDir = process.env.OPENCLAW_STATE_DIR || path.join(process.env.OPENCLAW_HOME || os.homedir(), '.openclaw');
const turns = createTurnRunner({ oc, config, writeLine, logErr, agentDirRoot: path.join(stateDir, 'run-agents') });

let shuttingDown = false;
function shutdown(why) {
  if (shuttingDown) return;
  shuttingDown = true;
  logErr(`shutting down (${why}), ${turns.inflightCount} turn(s) in flight`);
  turns.abortAll(`runner shutting down (${why})`);
  // OpenClaw keeps workers and timers alive; exit explicitly. Protocol lines were written
  // synchronously (stdout is a pipe or file), so nothing is lost.
  process.exit(0);
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

writeLine({
  type: 'ready',
  openclawVersion: oc.version,
  nodeVersion: process.version,
  startupMs: Math.round(performance.now() - startedAt),
});
logErr(`ready: openclaw ${oc.version} from ${oc.root}, imports ${JSON.stringify(oc.timings)}`);

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });
rl.on('line', (line) => {
  if (shuttingDown) return;
  let req;
  try {
    req = parseRequest(line);
  } catch (err) {
    if (err instanceof BadRequest) {
      writeLine({ type: 'error', ...(err.id ? { id: err.id } : {}), code: 'bad_request', message: err.message });
      return;
    }
    writeLine({ type: 'error', code: 'internal', message: String(err?.message ?? err) });
    return;
  }
  if (!req) return;
  switch (req.type) {
    case 'run':
      turns.run(req).catch((err) => logErr(`turn ${req.id}: unexpected failure`, err));
      break;
    case 'abort':
      turns.abort(req.id);
      break;
    case 'shutdown':
      shutdown('shutdown request');
      break;
  }
});
rl.on('close', () => shutdown('stdin closed'));
