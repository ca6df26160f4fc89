// Shared helpers for the runner tests: a runner's folders and config, spawn runner.mjs, read its
// protocol lines.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const RUNNER_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RUNNER = path.join(RUNNER_DIR, 'runner.mjs');

/**
 * A runner's folders (state, home, tmp) and config file under a new temporary root, and the
 * environment the host would give it (docs/runner-protocol.md). `config(dirs)` returns the config
 * object. Returns `{ root, dirs, configPath, env }`.
 */
/** @param {(dirs: { state: string, home: string, tmp: string }) => object} config */
export function runnerHome(config) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'runner-test-'));
  const dirs = { state: path.join(root, 'state'), home: path.join(root, 'home'), tmp: path.join(root, 'tmp') };
  for (const dir of Object.values(dirs)) fs.mkdirSync(dir);
  const configPath = path.join(root, 'openclaw.json');
  fs.writeFileSync(configPath, JSON.stringify(config(dirs)));
  const env = {
    OPENCLAW_CONFIG_PATH: configPath, OPENCLAW_STATE_DIR: dirs.state, OPENCLAW_HOME: dirs.home, HOME: dirs.home,
    TMPDIR: dirs.tmp, SQLITE_TMPDIR: dirs.tmp, OPENCLAW_DISABLE_BONJOUR: '1', OPENCLAW_SKIP_CHANNELS: '1',
    OPENCLAW_NO_RESPAWN: '1', OPENCLAW_NO_AUTO_UPDATE: '1', DO_NOT_TRACK: '1',
  };
  return { root, dirs, configPath, env };
}

/** A runner config whose default model is `custom/tool-model` (the `llm` of {@link toolModelLlm}). */
export function toolModelConfig() {
  return {
    agents: { defaults: { model: { primary: 'custom/tool-model' } }, entries: { main: {} } },
    models: { catalogRefresh: { enabled: false } },
    update: { checkOnStart: false, auto: { enabled: false } },
    telemetry: { enabled: false },
  };
}

/**
 * A run's `llm`: the provider entry `custom` for the fake LLM at `baseUrl`, its model `tool-model`, and `apiKey`.
 * @param {string} baseUrl
 * @param {string} apiKey
 */
export function toolModelLlm(baseUrl, apiKey) {
  return {
    providerId: 'custom', model: 'tool-model', apiKey,
    provider: { baseUrl, api: 'anthropic-messages', models: [{ id: 'tool-model', name: 'tool-model', input: ['text'], contextWindow: 200000, maxTokens: 8192 }] },
  };
}

/**
 * A runner config with OpenClaw's browser as agent::config renders it (the runner's plugins, Tool
 * Search in directory mode, headless Chromium at `chromium`), the test page's host `127.0.0.1` allowed.
 * @param {string} chromium
 */
export function browserConfig(chromium) {
  return {
    agents: { entries: { main: {} } },
    models: { catalogRefresh: { enabled: false } },
    plugins: { allow: ['anthropic', 'openai', 'memory-core', 'browser', 'web-readability', 'document-extract'] },
    tools: { updatePlan: false, toolSearch: { mode: 'directory' } },
    update: { checkOnStart: false, auto: { enabled: false } },
    telemetry: { enabled: false },
    browser: { enabled: true, headless: true, noSandbox: true, executablePath: chromium, ssrfPolicy: { allowedHostnames: ['127.0.0.1'] } },
  };
}

/** Every descendant of `pid` with its command line, from /proc. */
/** @param {number} pid */
export function descendants(pid) {
  /** @type {Map<number, number[]>} parent -> children */
  const children = new Map();
  for (const entry of fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      /* gone */
    }
  }
  /** @type {Array<{ pid: number, cmdline: string }>} */
  const found = [];
  const queue = [...(children.get(pid) ?? [])];
  while (queue.length > 0) {
    const next = /** @type {number} */ (queue.shift());
    let cmdline = '';
    try {
      cmdline = fs.readFileSync(`/proc/${next}/cmdline`, 'utf8').replaceAll('\0', ' ');
    } catch {
      /* gone */
    }
    found.push({ pid: next, cmdline });
    queue.push(...(children.get(next) ?? []));
  }
  return found;
}

/** Every file under `dir`, recursively. */
/** @param {string} dir */
export function filesUnder(dir) {
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

/** Spawns the runner with exactly `env` (plus PATH/HOME) and collects stdout lines and stderr. */
/**
 * A protocol line as the runner wrote it (the tests check its fields).
 * @typedef {Record<string, any>} Line
 */

/** @typedef {ReturnType<typeof runnerHome>} RunnerHome */
/** @typedef {ReturnType<typeof spawnRunner>} Runner */

/** @param {NodeJS.ProcessEnv} env */
export function spawnRunner(env) {
  const child = spawn(process.execPath, [RUNNER], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  /** @type {string[]} */
  const lines = [];
  /** @type {Array<{ pred: (line: Line) => boolean, resolve: (line: Line) => void }>} */
  const waiters = [];
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line);
    for (const w of [...waiters]) {
      let obj;
      try {
        obj = JSON.parse(line);
      } catch {
        continue;
      }
      if (w.pred(obj)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(obj);
      }
    }
  });
  const exit = once(child, 'exit').then(([code, signal]) => ({ code: /** @type {number | null} */ (code), signal: /** @type {NodeJS.Signals | null} */ (signal) }));
  return {
    child,
    lines,
    exit,
    get stderr() {
      return stderr;
    },
    /** @param {string | object} obj a line, or an object sent as JSON */
    send(obj) {
      child.stdin.write(`${typeof obj === 'string' ? obj : JSON.stringify(obj)}\n`);
    },
    /** Resolves with the first protocol object (already seen or future) matching `pred`. */
    /**
     * @param {(line: Line) => boolean} pred
     * @returns {Promise<Line>}
     */
    waitFor(pred, timeoutMs = 60_000) {
      for (const line of lines) {
        try {
          const obj = JSON.parse(line);
          if (pred(obj)) return Promise.resolve(obj);
        } catch {
          /* not JSON */
        }
      }
      return new Promise((resolve, reject) => {
        const w = { pred, resolve };
        waiters.push(w);
        setTimeout(() => {
          const i = waiters.indexOf(w);
          if (i >= 0) waiters.splice(i, 1);
          reject(new Error(`timed out waiting for a protocol line; stdout=${JSON.stringify(lines)} stderr tail=${stderr.slice(-2000)}`));
        }, timeoutMs).unref();
      });
    },
    /** Resolves once stderr contains text matching `re`. */
    /**
     * @param {RegExp} re
     * @returns {Promise<void>}
     */
    waitForStderr(re, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const started = Date.now();
        const poll = () => {
          if (re.test(stderr)) resolve();
          else if (Date.now() - started > timeoutMs) reject(new Error(`timed out waiting for ${re} on stderr; tail=${stderr.slice(-2000)}`));
          else setTimeout(poll, 50).unref();
        };
        poll();
      });
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
