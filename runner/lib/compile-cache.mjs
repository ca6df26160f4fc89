// Node's compile cache for the runner, OpenClaw and OpenClaw's worker threads
// (docs/runner-protocol.md, "Compile cache").
//
// The host names a directory in NODE_COMPILE_CACHE. Node enables the cache before any of our code runs
// when it can use `<dir>/<tag>`, the tag being Node's version, the CPU architecture, V8's cache version
// and the user id; worker threads inherit the variable and do the same. That covers local mode (a
// writable directory the first runner fills) and an image whose cache was primed by the same user.
//
// It does not cover the agent Lambda: the image is primed at build time as root (`runner.mjs --prime`),
// the function runs as another user on a read-only file system, so `<dir>/<tag for this uid>` neither
// exists nor can be created, and Node silently runs without a cache. For that case this module links
// `<TMPDIR>/node-compile-cache/<tag>` to the primed subdirectory of the same Node and V8 (made by another
// user) and enables the cache there, for this thread and, through the variable, for worker threads.
// Node reads entries through the link and skips persisting into the read-only target (checked with
// Node 24.21: each write fails quietly).

import fs from 'node:fs';
import module from 'node:module';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import { codeOrMessageOf } from './errors.mjs';

/** The part of Node's cache tag that says which code caches fit: `<version>-<arch>-<V8 cache tag>`. */
function codeTag() {
  return `${process.version}-${process.arch}-${v8.cachedDataVersionTag().toString(16).padStart(8, '0')}`;
}

/** Node's name for the cache subdirectory of this process: the code tag and, on POSIX, `-<uid>`. */
export function compileCacheTag() {
  const uid = process.getuid?.();
  return uid === undefined ? codeTag() : `${codeTag()}-${uid}`;
}

/** A subdirectory of `base` primed for the same Node and V8 by another user, or null. */
/** @param {string} base */
function primedByAnotherUser(base) {
  const prefix = `${codeTag()}-`;
  let names;
  try {
    names = fs.readdirSync(base);
  } catch {
    return null;
  }
  const name = names.find((n) => n.startsWith(prefix) && /^\d+$/.test(n.slice(prefix.length)));
  return name ? path.join(base, name) : null;
}

/** @param {string} dir */
function writable(dir) {
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes sure the compile cache named by NODE_COMPILE_CACHE is in use (see above). Returns
 * `{ dir, persist }`: the cache subdirectory in use (null without a cache) and whether new entries
 * can be written there (a primed read-only cache cannot take any).
 */
/**
 * @param {{ env?: NodeJS.ProcessEnv, tmpDir?: string, log?: (message: string) => void }} [options]
 * @returns {{ dir: string | null, persist: boolean }}
 */
export function setUpCompileCache({ env = process.env, tmpDir = env.TMPDIR || os.tmpdir(), log = () => {} } = {}) {
  const base = env.NODE_COMPILE_CACHE;
  if (!base) return { dir: null, persist: false };
  const enabled = module.getCompileCacheDir?.();
  if (enabled) return { dir: enabled, persist: writable(enabled) };
  const primed = primedByAnotherUser(path.resolve(base));
  if (!primed) {
    log(`compile cache: ${base} is not usable (no cache for this user and not writable); running without it`);
    return { dir: null, persist: false };
  }
  const linkBase = path.join(tmpDir, 'node-compile-cache');
  const link = path.join(linkBase, compileCacheTag());
  try {
    fs.mkdirSync(linkBase, { recursive: true });
    fs.rmSync(link, { force: true, recursive: true });
    fs.symlinkSync(primed, link, 'dir');
  } catch (err) {
    log(`compile cache: cannot link ${link} to ${primed} (${codeOrMessageOf(err)}); running without it`);
    return { dir: null, persist: false };
  }
  const result = module.enableCompileCache(linkBase);
  if (result.status !== module.constants.compileCacheStatus.ENABLED) {
    log(`compile cache: enabling ${linkBase} failed: ${result.message ?? result.status}`);
    return { dir: null, persist: false };
  }
  // Worker threads read the variable when they start.
  env.NODE_COMPILE_CACHE = linkBase;
  log(`compile cache: using ${primed}, primed by another user, through ${link}`);
  return { dir: link, persist: false };
}

/** Writes the entries compiled so far (Node otherwise writes them only at a clean exit). */
export function flushCompileCache() {
  module.flushCompileCache?.();
}
