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
import { messageOf } from './errors.mjs';

const realWrite = process.stdout.write.bind(process.stdout);
const errWrite = process.stderr.write.bind(process.stderr);

process.stdout.write = /** @type {typeof process.stdout.write} */ (
  /**
   * @param {string | Uint8Array} chunk
   * @param {BufferEncoding} [encoding]
   * @param {(err?: Error | null) => void} [callback]
   */
  function redirectedStdoutWrite(chunk, encoding, callback) {
    return errWrite(chunk, encoding, callback);
  }
);

// Node's console writes through process.stdout.write (patched above); dir/table/count/time/group
// go through the same path. Point the stdout-level console methods at console.error explicitly as
// well, in case a module captured the stream's original method.
const consoleError = console.error.bind(console);
for (const method of /** @type {const} */ (['log', 'info', 'debug'])) console[method] = consoleError;

let closed = false;

/** Writes one protocol object as a JSON line to the real stdout. */
/** @param {import('../types.d.ts').ProtocolLine} obj */
export function writeLine(obj) {
  if (closed) return;
  try {
    realWrite(`${JSON.stringify(obj)}\n`);
  } catch (err) {
    // EPIPE: the host went away. Nothing sensible left to do with output.
    closed = true;
    errWrite(`[runner] stdout write failed: ${messageOf(err)}\n`);
  }
}

/** Diagnostic logging for the runner itself (stderr). */
/** @param {unknown[]} parts */
export function logErr(...parts) {
  errWrite(`[runner] ${parts.map((p) => (typeof p === 'string' ? p : p instanceof Error ? (p.stack ?? p.message) : JSON.stringify(p))).join(' ')}\n`);
}

process.stdout.on?.('error', (err) => {
  closed = true;
  errWrite(`[runner] stdout error: ${messageOf(err)}\n`);
});
