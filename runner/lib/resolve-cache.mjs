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

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import module from 'node:module';
import path from 'node:path';

const FILE = 'serverless-openclaw-resolutions.json';
const FORMAT_VERSION = 1;

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

function key(parentURL, specifier) {
  return `${parentURL}\n${specifier}`;
}

function cacheable(context) {
  const attributes = context.importAttributes;
  return context.parentURL !== undefined && context.conditions?.includes('import') && (!attributes || Object.keys(attributes).length === 0);
}

function readRecord(file, identity) {
  try {
    const record = JSON.parse(fs.readFileSync(file, 'utf8'));
    if (record.version === FORMAT_VERSION && record.install === identity && record.resolutions && typeof record.resolutions === 'object') {
      return new Map(Object.entries(record.resolutions));
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
  const known = readRecord(file, identity);
  if (known) {
    module.registerHooks({
      resolve(specifier, context, nextResolve) {
        const url = cacheable(context) ? known.get(key(context.parentURL, specifier)) : undefined;
        return url ? { url, format: 'module', shortCircuit: true } : nextResolve(specifier, context);
      },
    });
    return { state: 'used', save() {} };
  }
  if (!writable) return none;
  const recorded = new Map();
  module.registerHooks({
    resolve(specifier, context, nextResolve) {
      const result = nextResolve(specifier, context);
      if (result.format === 'module' && cacheable(context)) recorded.set(key(context.parentURL, specifier), result.url);
      return result;
    },
  });
  return {
    state: 'recording',
    save() {
      const tmp = `${file}.${process.pid}.tmp`;
      try {
        fs.writeFileSync(tmp, JSON.stringify({ version: FORMAT_VERSION, install: identity, resolutions: Object.fromEntries(recorded) }));
        fs.renameSync(tmp, file);
      } catch (err) {
        fs.rmSync(tmp, { force: true });
        log(`resolution cache: writing ${file} failed: ${err?.message ?? err}`);
      }
    },
  };
}
