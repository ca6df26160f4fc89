// The resolution cache (lib/resolve-cache.mjs) on a tiny package tree. Each case runs in a child
// process, as the hook it installs lasts for the process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const LIB = pathToFileURL(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'lib', 'resolve-cache.mjs')).href;
const RECORD = 'serverless-openclaw-resolutions.json';

/** node_modules with a lockfile and pkg/main.mjs importing ./a.mjs (b.mjs exists too). */
function tree() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'resolve-cache-test-'));
  const nm = path.join(root, 'node_modules');
  fs.mkdirSync(path.join(nm, 'pkg'), { recursive: true });
  fs.writeFileSync(path.join(nm, '.package-lock.json'), '{"lockfileVersion":3}');
  fs.writeFileSync(path.join(nm, 'pkg', 'a.mjs'), "export default 'a';\n");
  fs.writeFileSync(path.join(nm, 'pkg', 'b.mjs'), "export default 'b';\n");
  fs.writeFileSync(path.join(nm, 'pkg', 'main.mjs'), "import v from './a.mjs';\nexport default v;\n");
  const cache = path.join(root, 'cache');
  fs.mkdirSync(cache);
  return { root, nm, cache, main: pathToFileURL(path.join(nm, 'pkg', 'main.mjs')).href };
}

/** Installs the cache in a child process, imports main.mjs, saves; returns { state, value }. */
/**
 * @param {ReturnType<typeof tree>} t
 * @param {boolean} writable
 */
function load(t, writable) {
  const script = `
    const { installResolveCache } = await import(${JSON.stringify(LIB)});
    const cache = installResolveCache({ dir: ${JSON.stringify(t.cache)}, writable: ${writable}, nodeModules: ${JSON.stringify(t.nm)} });
    const { default: value } = await import(${JSON.stringify(t.main)});
    cache.save();
    console.log(JSON.stringify({ state: cache.state, value }));`;
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }));
}

test('a writable cache records import resolutions with the install they belong to', () => {
  const t = tree();
  assert.deepEqual(load(t, true), { state: 'recording', value: 'a' });
  const record = JSON.parse(fs.readFileSync(path.join(t.cache, RECORD), 'utf8'));
  // URLs inside node_modules are kept relative to it.
  assert.equal(record.base, `${pathToFileURL(t.nm).href}/`);
  assert.equal(record.resolutions['pkg/main.mjs']['./a.mjs'], 'pkg/a.mjs');
  assert.match(record.install, new RegExp(`^${process.version.replaceAll('.', '\\.')}\\|`));
  fs.rmSync(t.root, { recursive: true, force: true });
});

test('a record of this install answers resolutions, also from a read-only cache', () => {
  const t = tree();
  load(t, true);
  // Rewrite the record so that only an answer from it can lead to b.mjs.
  const file = path.join(t.cache, RECORD);
  const record = JSON.parse(fs.readFileSync(file, 'utf8'));
  record.resolutions['pkg/main.mjs']['./a.mjs'] = 'pkg/b.mjs';
  fs.writeFileSync(file, JSON.stringify(record));
  assert.deepEqual(load(t, false), { state: 'used', value: 'b' });
  fs.rmSync(t.root, { recursive: true, force: true });
});

test('a record of another install is ignored: Node resolves, and a writable cache records anew', () => {
  const t = tree();
  load(t, true);
  const file = path.join(t.cache, RECORD);
  const record = JSON.parse(fs.readFileSync(file, 'utf8'));
  record.resolutions['pkg/main.mjs']['./a.mjs'] = 'pkg/b.mjs';
  fs.writeFileSync(file, JSON.stringify(record));
  // npm rewrites the lockfile on every install.
  fs.writeFileSync(path.join(t.nm, '.package-lock.json'), '{"lockfileVersion":3,"packages":{}}');
  assert.deepEqual(load(t, false), { state: 'off', value: 'a' });
  assert.deepEqual(load(t, true), { state: 'recording', value: 'a' });
  assert.equal(JSON.parse(fs.readFileSync(file, 'utf8')).resolutions['pkg/main.mjs']['./a.mjs'], 'pkg/a.mjs');
  fs.rmSync(t.root, { recursive: true, force: true });
});

test('without a lockfile nothing is cached', () => {
  const t = tree();
  fs.rmSync(path.join(t.nm, '.package-lock.json'));
  assert.deepEqual(load(t, true), { state: 'off', value: 'a' });
  assert.equal(fs.existsSync(path.join(t.cache, RECORD)), false);
  fs.rmSync(t.root, { recursive: true, force: true });
});
