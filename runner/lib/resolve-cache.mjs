// A memo of Node's module resolution for OpenClaw's import graph, kept next to the compile cache
// (docs/runner-protocol.md, "Compile cache").
//
// Loading OpenClaw resolves ~22,000 import edges. Node's resolver reads package.json `exports` maps and
// stats and realpaths every target each time; with the compile cache in place that is the largest cost
// of the import left (measured: 0.7-1 s of a 3-4 s start on 2 cores). The answers only change when the
// installed packages change, so the runner records them once (when priming, or on its first start
// with a writable cache) and afterwards answers from the record through a `module.registerHooks`
// resolve hook. Anything not in the record goes to Node's resolver as usual.
//
// What is recorded: `import` resolutions from a parent module without import attributes whose answer
// is an ES module (`require()` and JSON imports always go to Node). The record names the install it
// belongs to (Node's version, the packages' lockfile identity); a record of another install is ignored.
// It is read on every start, so it is kept small: answers grouped by parent, URLs inside node_modules
// written relative to it (`{ base, resolutions: { parent: { specifier: url } } }`).

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import module from 'node:module';
import path from 'node:path';
import { messageOf } from './errors.mjs';
import { pathToFileURL } from 'node:url';

const FILE = 'serverless-openclaw-resolutions.json';
const FORMAT_VERSION = 2;

/**
 * Which install a record belongs to: Node's version, where node_modules is, and a hash of npm's
 * lockfile inside it (`.package-lock.json`, rewritten by every install; its content, not its mtime or
 * inode, which an image's layers need not keep). Null when there is no lockfile to go by: then
 * nothing is cached.
 */
/** @param {string} nodeModules */
function installIdentity(nodeModules) {
  try {
    const lock = createHash('sha256').update(fs.readFileSync(path.join(nodeModules, '.package-lock.json'))).digest('hex');
    return `${process.version}|${fs.realpathSync(nodeModules)}|${lock}`;
  } catch {
    return null;
  }
}

/** Shortens URLs under `base` (absolute ones never start with a path segment, so no ambiguity). */
/** @param {string} base */
function urlCodec(base) {
  return {
    /** @param {string} url */
    encode: (url) => (url.startsWith(base) ? url.slice(base.length) : url),
    /** @param {string} short */
    decode: (short) => (short.startsWith('file:') ? short : base + short),
  };
}

/** @param {module.ResolveHookContext} context */
function cacheable(context) {
  const attributes = context.importAttributes;
  return context.parentURL !== undefined && context.conditions?.includes('import') && (!attributes || Object.keys(attributes).length === 0);
}

/**
 * @param {string} file
 * @param {string} identity
 * @param {string} base
 * @returns {Record<string, Record<string, unknown>> | null} parent URL -> specifier -> URL, both shortened
 */
function readRecord(file, identity, base) {
  try {
    const record = JSON.parse(fs.readFileSync(file, 'utf8'));
    if (record.version === FORMAT_VERSION && record.install === identity && record.base === base && record.resolutions && typeof record.resolutions === 'object') {
      return record.resolutions;
    }
  } catch {
    /* missing or unreadable: none */
  }
  return null;
}

/**
 * Installs the hook for this thread, before OpenClaw is imported. `dir`: the compile cache directory
 * the host named (NODE_COMPILE_CACHE; may be read-only); `writable`: whether a record may be written
 * there; `nodeModules`: the folder OpenClaw is installed in. Returns `{ state, save() }`: `state` is
 * `used` (answering from a record), `recording` (`save()` writes the record) or `off`.
 */
/**
 * @param {{ dir: string | null | undefined, writable: boolean, nodeModules: string | null, log?: (message: string) => void }} options
 * @returns {{ state: 'used' | 'recording' | 'off', save(): void }}
 */
export function installResolveCache({ dir, writable, nodeModules, log = () => {} }) {
  /** @type {{ state: 'off', save(): void }} */
  const none = { state: 'off', save() {} };
  const identity = dir && nodeModules ? installIdentity(nodeModules) : null;
  if (!dir || !nodeModules || !identity) return none;
  const file = path.join(dir, FILE);
  const base = pathToFileURL(fs.realpathSync(nodeModules)).href + '/';
  const { encode, decode } = urlCodec(base);
  const known = readRecord(file, identity, base);
  if (known) {
    module.registerHooks({
      resolve(specifier, context, nextResolve) {
        // Own properties only: a specifier such as "constructor" must not find Object.prototype's.
        const answers = cacheable(context) && context.parentURL !== undefined ? known[encode(context.parentURL)] : undefined;
        const short = answers && Object.hasOwn(answers, specifier) ? answers[specifier] : undefined;
        return typeof short === 'string' ? { url: decode(short), format: 'module', shortCircuit: true } : nextResolve(specifier, context);
      },
    });
    return { state: 'used', save() {} };
  }
  if (!writable) return none;
  // Null prototypes: a specifier is data, never a way to reach Object.prototype.
  /** @type {Record<string, Record<string, string>>} */
  const recorded = Object.create(null);
  module.registerHooks({
    resolve(specifier, context, nextResolve) {
      const result = nextResolve(specifier, context);
      if (result.format === 'module' && cacheable(context) && context.parentURL !== undefined) {
        const parent = encode(context.parentURL);
        recorded[parent] ??= Object.create(null);
        recorded[parent][specifier] = encode(result.url);
      }
      return result;
    },
  });
  return {
    state: 'recording',
    save() {
      const tmp = `${file}.${process.pid}.tmp`;
      try {
        fs.writeFileSync(tmp, JSON.stringify({ version: FORMAT_VERSION, install: identity, base, resolutions: recorded }));
        fs.renameSync(tmp, file);
      } catch (err) {
        fs.rmSync(tmp, { force: true });
        log(`resolution cache: writing ${file} failed: ${messageOf(err)}`);
      }
    },
  };
}
