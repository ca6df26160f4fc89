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
export function runnerHome(config) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'runner-test-'));
  const dirs = Object.fromEntries(['state', 'home', 'tmp'].map((d) => [d, path.join(root, d)]));
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

/** Every file under `dir`, recursively. */
export function filesUnder(dir) {
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

/** Spawns the runner with exactly `env` (plus PATH/HOME) and collects stdout lines and stderr. */
export function spawnRunner(env) {
  const child = spawn(process.execPath, [RUNNER], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines = [];
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
  const exit = once(child, 'exit').then(([code, signal]) => ({ code, signal }));
  return {
    child,
    lines,
    exit,
    get stderr() {
      return stderr;
    },
    send(obj) {
      child.stdin.write(`${typeof obj === 'string' ? obj : JSON.stringify(obj)}\n`);
    },
    /** Resolves with the first protocol object (already seen or future) matching `pred`. */
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
