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
import { pathToFileURL } from 'node:url';

const FILE = 'serverless-openclaw-resolutions.json';
const FORMAT_VERSION = 2;

/**
 * Which install a record belongs to: Node's version, where node_modules is, and a hash of npm's
 * lockfile inside it (`.package-lock.json`, rewritten by every install; its content, not its mtime or
 * inode, which an image's layers need not keep). Null when there is no lockfile to go by: then
 * nothing is cached.
 */
function installIdentity(nodeModules) {
  try {
    const lock = createHash('sha256').update(fs.readFileSync(path.join(nodeModules, '.package-lock.json'))).digest('hex');
    return `${process.version}|${fs.realpathSync(nodeModules)}|${lock}`;
  } catch {
    return null;
  }
}

/** Shortens URLs under `base` (absolute ones never start with a path segment, so no ambiguity). */
function urlCodec(base) {
  return {
    encode: (url) => (url.startsWith(base) ? url.slice(base.length) : url),
    decode: (short) => (short.startsWith('file:') ? short : base + short),
  };
}

function cacheable(context) {
  const attributes = context.importAttributes;
  return context.parentURL !== undefined && context.conditions?.includes('import') && (!attributes || Object.keys(attributes).length === 0);
}

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
export function installResolveCache({ dir, writable, nodeModules, log = () => {} }) {
  const none = { state: 'off', save() {} };
  const identity = dir ? installIdentity(nodeModules) : null;
  if (!identity) return none;
  const file = path.join(dir, FILE);
  const base = pathToFileURL(fs.realpathSync(nodeModules)).href + '/';
  const { encode, decode } = urlCodec(base);
  const known = readRecord(file, identity, base);
  if (known) {
    module.registerHooks({
      resolve(specifier, context, nextResolve) {
        // Own properties only: a specifier such as "constructor" must not find Object.prototype's.
        const answers = cacheable(context) ? known[encode(context.parentURL)] : undefined;
        const short = answers && Object.hasOwn(answers, specifier) ? answers[specifier] : undefined;
        return typeof short === 'string' ? { url: decode(short), format: 'module', shortCircuit: true } : nextResolve(specifier, context);
      },
    });
    return { state: 'used', save() {} };
  }
  if (!writable) return none;
  // Null prototypes: a specifier is data, never a way to reach Object.prototype.
  const recorded = Object.create(null);
  module.registerHooks({
    resolve(specifier, context, nextResolve) {
      const result = nextResolve(specifier, context);
      if (result.format === 'module' && cacheable(context)) {
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
        log(`resolution cache: writing ${file} failed: ${err?.message ?? err}`);
      }
    },
  };
}
