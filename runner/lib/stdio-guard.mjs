// Keeps the runner's stdout for protocol lines only.
//
// This module must be evaluated before anything from OpenClaw is loaded: runner.mjs imports it
// first and loads OpenClaw later with dynamic import(). It captures the real stdout writer, then
// sends every other write to stdout (console.log/info/debug/dir/table/..., process.stdout.write
// by any module) to stderr instead.
//
// Limitation: a child process spawned with stdio "inherit" writes to file descriptor 1 directly;
// Node has no dup2, so that cannot be redirected from JavaScript.

import process from 'node:process';

const realWrite = process.stdout.write.bind(process.stdout);
const errWrite = process.stderr.write.bind(process.stderr);

process.stdout.write = function redirectedStdoutWrite(chunk, encoding, callback) {
  return errWrite(chunk, encoding, callback);
};

// Node's console writes through process.stdout.write (patched above); dir/table/count/time/group
// go through the same path. Point the stdout-level console methods at console.error explicitly as
// well, in case a module captured the stream's original method.
const consoleError = console.error.bind(console);
for (const method of ['log', 'info', 'debug']) console[method] = consoleError;

let closed = false;

/** Writes one protocol object as a JSON line to the real stdout. */
export function writeLine(obj) {
  if (closed) return;
  try {
    realWrite(`${JSON.stringify(obj)}\n`);
  } catch (err) {
    // EPIPE: the host went away. Nothing sensible left to do with output.
    closed = true;
    errWrite(`[runner] stdout write failed: ${err?.message ?? err}\n`);
  }
}

/** Diagnostic logging for the runner itself (stderr). */
export function logErr(...parts) {
  errWrite(`[runner] ${parts.map((p) => (typeof p === 'string' ? p : p instanceof Error ? (p.stack ?? p.message) : JSON.stringify(p))).join(' ')}\n`);
}

process.stdout.on?.('error', (err) => {
  closed = true;
  errWrite(`[runner] stdout error: ${err?.message ?? err}\n`);
});
