// Shared helpers for the runner tests: spawn runner.mjs and read its protocol lines.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const RUNNER_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RUNNER = path.join(RUNNER_DIR, 'runner.mjs');

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
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
