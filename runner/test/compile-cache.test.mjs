// The compile cache: using a cache primed by another user (the agent image, primed as root at build
// time and read-only at run time), and priming one (with the resolution record) by `runner.mjs --prime`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import module from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setUpCompileCache, compileCacheTag } from '../lib/compile-cache.mjs';

const RUNNER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'runner.mjs');
/** @type {string[]} */
const made = [];
const tmp = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'compile-cache-test-'));
  made.push(dir);
  return dir;
};
process.on('exit', () => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
});

test('without NODE_COMPILE_CACHE there is no cache', () => {
  assert.deepEqual(setUpCompileCache({ env: {} }), { dir: null, persist: false });
});

test('a cache for this Node made by another user is not usable when no subdirectory of ours matches', () => {
  const base = tmp();
  fs.mkdirSync(path.join(base, 'v0.0.0-x64-00000000-1'));
  /** @type {string[]} */
  const logged = [];
  const env = { NODE_COMPILE_CACHE: base };
  assert.deepEqual(setUpCompileCache({ env, tmpDir: tmp(), log: (m) => logged.push(m) }), { dir: null, persist: false });
  assert.match(logged.join('\n'), /not usable/);
  assert.equal(env.NODE_COMPILE_CACHE, base);
});

// Node enabled no cache for this test process (NODE_COMPILE_CACHE was unset at its start), which is
// what a runner sees when Node could not use the primed directory.
test('a cache primed by another user for this Node is linked under TMPDIR and enabled, for workers too', () => {
  const base = tmp();
  const primed = path.join(base, `${compileCacheTag().replace(/-\d+$/, '')}-99999`);
  fs.mkdirSync(primed);
  const tmpDir = tmp();
  const env = { NODE_COMPILE_CACHE: base };
  const { dir, persist } = setUpCompileCache({ env, tmpDir });
  assert.equal(dir, path.join(tmpDir, 'node-compile-cache', compileCacheTag()));
  assert.equal(persist, false, 'a primed cache is not written to');
  assert.equal(fs.readlinkSync(dir), primed);
  assert.equal(module.getCompileCacheDir(), dir, 'Node uses it for this thread');
  assert.equal(env.NODE_COMPILE_CACHE, path.join(tmpDir, 'node-compile-cache'), 'worker threads inherit it');
});

/** @param {NodeJS.ProcessEnv} env */
async function prime(env) {
  const child = spawn(process.execPath, [RUNNER, '--prime'], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const [code] = await once(child, 'exit');
  return { code, stdout, stderr };
}

test('--prime fills the compile cache with OpenClaw and its warm-up, leaving nothing else behind', { timeout: 300_000 }, async () => {
  const cache = tmp();
  const tmpDir = tmp();
  const { code, stderr } = await prime({ NODE_COMPILE_CACHE: cache, TMPDIR: tmpDir });
  assert.equal(code, 0, stderr);
  const entries = fs.readdirSync(path.join(cache, compileCacheTag()));
  // OpenClaw and its dependencies are thousands of modules.
  assert.ok(entries.length > 2000, `${entries.length} cache entries`);
  // And the record of OpenClaw's module resolutions (lib/resolve-cache.mjs).
  const record = JSON.parse(fs.readFileSync(path.join(cache, 'serverless-openclaw-resolutions.json'), 'utf8'));
  const answers = Object.values(record.resolutions).reduce((n, bySpecifier) => n + Object.keys(bySpecifier).length, 0);
  assert.ok(answers > 10000, `thousands of import edges, got ${answers}`);
  assert.deepEqual(fs.readdirSync(tmpDir), [], 'the config, state and warm-up folders are removed');
});

test('--prime without a writable NODE_COMPILE_CACHE is a config_error and leaves nothing behind', async () => {
  const tmpDir = tmp();
  const { code, stdout } = await prime({ TMPDIR: tmpDir });
  assert.equal(code, 78);
  assert.equal(JSON.parse(stdout).code, 'config_error');
  assert.deepEqual(fs.readdirSync(tmpDir), []);
});
