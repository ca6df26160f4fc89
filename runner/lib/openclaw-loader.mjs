// Locates the installed OpenClaw package, checks that every internal the runner relies on exists
// with the expected shape, and returns them. Any mismatch is reported as one IncompatibleOpenClaw
// error listing everything that is missing, so a version bump fails loudly at start-up instead of
// in the middle of a turn.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { codeOrMessageOf, messageOf } from './errors.mjs';

/** @import { AgentCore, OpenClaw } from '../types.d.ts' */

export const EXPECTED_OPENCLAW_VERSION = '2026.9.6';

/** Environment variable that overrides where the openclaw package root is (tests, odd layouts). */
export const OPENCLAW_DIR_ENV = 'SERVERLESS_OPENCLAW_OPENCLAW_DIR';

export class IncompatibleOpenClaw extends Error {
  /**
   * @param {string[]} problems
   * @param {string} [version] the installed version, when known
   */
  constructor(problems, version) {
    super(
      `runner expects openclaw ${EXPECTED_OPENCLAW_VERSION}` +
        (version ? ` (found ${version})` : '') +
        `: ${problems.join('; ')}`,
    );
    this.name = 'IncompatibleOpenClaw';
    this.problems = problems;
  }
}

/** Finds the package root: the override env var, else resolution from this file's location. */
/** @param {NodeJS.ProcessEnv} [env] */
export function resolveOpenClawRoot(env = process.env) {
  const override = env[OPENCLAW_DIR_ENV];
  if (override && override.trim()) return path.resolve(override.trim());
  // `openclaw/package.json` is not in the package's exports; resolve its main entry and walk up.
  let entry;
  try {
    entry = fileURLToPath(import.meta.resolve('openclaw'));
  } catch (err) {
    throw new IncompatibleOpenClaw([`package "openclaw" cannot be resolved (${codeOrMessageOf(err)}); run scripts/install-runner.sh`]);
  }
  let dir = path.dirname(entry);
  for (;;) {
    const pkgPath = path.join(dir, 'package.json');
    if (fs.existsSync(pkgPath)) {
      try {
        if (JSON.parse(fs.readFileSync(pkgPath, 'utf8')).name === 'openclaw') return dir;
      } catch {
        /* keep walking */
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new IncompatibleOpenClaw([`no openclaw package.json above ${entry}`]);
}

/**
 * @param {{ exports?: Record<string, string | { import?: string, default?: string }> }} pkg openclaw's package.json
 * @param {string} subpath
 * @returns {string | null}
 */
function exportTarget(pkg, subpath) {
  const entry = pkg.exports?.[subpath];
  if (typeof entry === 'string') return entry;
  if (entry && typeof entry === 'object') return entry.import ?? entry.default ?? null;
  return null;
}

/**
 * @param {string} file
 * @returns {Promise<Record<string, any>>} the module's exports, checked by the caller
 */
async function importFile(file) {
  return import(pathToFileURL(file).href);
}

/**
 * The hashed chunks `dist/<prefix>-<hash>.mjs` (none when dist/ cannot be read).
 * @param {string} distDir
 * @param {string} prefix
 */
function chunksOf(distDir, prefix) {
  try {
    return fs.readdirSync(distDir).filter((f) => f.startsWith(`${prefix}-`) && /\.m?js$/.test(f)).sort();
  } catch {
    return [];
  }
}

/**
 * The one function named `name` among the exports of the hashed chunks `dist/<prefix>-<hash>.mjs`:
 * OpenClaw exports some internals only from such chunks, under mangled names (a re-export facade may
 * sit next to the real chunk; both yield the same function object, and module state such as a
 * registry exists once). Adds a problem, and returns undefined, unless exactly one is found (a missing
 * chunk is found by the early check in `loadOpenClaw`).
 * @param {string} distDir
 * @param {string} prefix
 * @param {string} name
 * @param {string[]} problems
 * @returns {Promise<Function | undefined>}
 */
async function functionNamed(distDir, prefix, name, problems) {
  /** @type {Set<Function>} */
  const found = new Set();
  for (const file of chunksOf(distDir, prefix)) {
    try {
      const mod = await importFile(path.join(distDir, file));
      for (const value of Object.values(mod)) {
        if (typeof value === 'function' && value.name === name) found.add(value);
      }
    } catch (err) {
      problems.push(`importing dist/${file} failed: ${messageOf(err)}`);
    }
  }
  if (found.size === 1) return [...found][0];
  problems.push(found.size === 0 ? `no function named ${name} in dist/${prefix}-*.mjs` : `${found.size} different functions named ${name} in dist/${prefix}-*.mjs`);
  return undefined;
}

/**
 * Loads and checks everything the runner uses. Returns
 * { root, version, runEmbeddedAgent, prepareSystemAgentRunAdmission, acquireAgentRunPreparedModelRuntime,
 *   bumpSkillsSnapshotVersion, SessionManager, parseSessionEntries, loadConfig, stopBrowserControlService, timings }.
 * @param {NodeJS.ProcessEnv} [env]
 * @returns {Promise<OpenClaw>}
 */
export async function loadOpenClaw(env = process.env) {
  const root = resolveOpenClawRoot(env);
  const problems = [];
  /** @type {OpenClaw['timings']} */
  const timings = {};
  const pkgPath = path.join(root, 'package.json');
  let pkg;
  try {
    pkg = JSON.parse(fs.readFileSync(pkgPath, 'utf8'));
  } catch (err) {
    throw new IncompatibleOpenClaw([`cannot read openclaw package.json (${codeOrMessageOf(err)})`]);
  }
  const version = typeof pkg.version === 'string' ? pkg.version : undefined;
  if (pkg.name !== 'openclaw') problems.push(`package name is ${JSON.stringify(pkg.name)}, not "openclaw"`);
  if (version !== EXPECTED_OPENCLAW_VERSION) problems.push(`installed version is ${version ?? 'unknown'}`);
  // The tarball ships these markers; its postinstall clears them. If they are still there the
  // install scripts did not run, and importing openclaw would try to finish the job by writing
  // into node_modules (read-only in the container image).
  for (const marker of ['.openclaw-lifecycle-pending', 'dist/openclaw-install-guard']) {
    if (fs.existsSync(path.join(root, marker))) problems.push(`install marker ${marker} is present (openclaw's postinstall did not run)`);
  }
  const distDir = path.join(root, 'dist');
  const runtimeFile = path.join(distDir, 'run-embedded.runtime.js');
  if (!fs.existsSync(runtimeFile)) problems.push('dist/run-embedded.runtime.js is missing');
  if (!fs.existsSync(distDir)) problems.push('dist/ is missing');
  else {
    for (const prefix of ['admitted-run-context', 'prepared-model-runtime', 'refresh-state']) {
      if (chunksOf(distDir, prefix).length === 0) problems.push(`no dist/${prefix}-<hash>.mjs chunk`);
    }
  }
  const sessionsTarget = exportTarget(pkg, './plugin-sdk/agent-sessions');
  if (!sessionsTarget) problems.push('export "openclaw/plugin-sdk/agent-sessions" is missing');
  const mainTarget = exportTarget(pkg, '.');
  if (!mainTarget) problems.push('export "openclaw" (".") is missing');
  if (problems.length) throw new IncompatibleOpenClaw(problems, version);

  // Filled in below; returned only once every part is there (`problems` is empty).
  const out = /** @type {OpenClaw} */ ({ root, version });
  const t0 = performance.now();
  try {
    const mod = await importFile(runtimeFile);
    out.runEmbeddedAgent = mod.runEmbeddedAgent;
    if (typeof out.runEmbeddedAgent !== 'function') problems.push('runEmbeddedAgent is not exported as a function by dist/run-embedded.runtime.js');
  } catch (err) {
    problems.push(`importing dist/run-embedded.runtime.js failed: ${messageOf(err)}`);
  }
  timings.runtimeImportMs = Math.round(performance.now() - t0);

  const admission = await functionNamed(distDir, 'admitted-run-context', 'prepareSystemAgentRunAdmission', problems);
  if (admission) {
    out.prepareSystemAgentRunAdmission = /** @type {OpenClaw['prepareSystemAgentRunAdmission']} */ (admission);
    if (admission.length < 4) problems.push('prepareSystemAgentRunAdmission takes fewer than 4 parameters');
  }
  // Prepared model runtimes held across runs (lib/prepared-runtimes.mjs).
  const acquire = await functionNamed(distDir, 'prepared-model-runtime', 'acquireAgentRunPreparedModelRuntime', problems);
  if (acquire) out.acquireAgentRunPreparedModelRuntime = /** @type {OpenClaw['acquireAgentRunPreparedModelRuntime']} */ (acquire);
  // Skills changed between turns (an upload, a delete) show in the next prompt only after this
  // (OpenClaw caches each workspace's skills until a watcher it does not run here bumps them).
  const bump = await functionNamed(distDir, 'refresh-state', 'bumpSkillsSnapshotVersion', problems);
  if (bump) out.bumpSkillsSnapshotVersion = /** @type {OpenClaw['bumpSkillsSnapshotVersion']} */ (bump);

  if (sessionsTarget) {
    try {
      const mod = await importFile(path.join(root, sessionsTarget));
      const SM = mod.SessionManager;
      if (typeof SM !== 'function') problems.push('SessionManager is not exported by openclaw/plugin-sdk/agent-sessions');
      else {
        for (const fn of ['inMemory', 'fromEntries']) if (typeof SM[fn] !== 'function') problems.push(`SessionManager.${fn} is missing`);
        for (const fn of ['getHeader', 'getEntries', 'getBranch', 'appendCompaction', 'buildSessionContext']) if (typeof SM.prototype?.[fn] !== 'function') problems.push(`SessionManager.prototype.${fn} is missing`);
      }
      out.SessionManager = SM;
      out.parseSessionEntries = mod.parseSessionEntries;
      if (typeof out.parseSessionEntries !== 'function') problems.push('parseSessionEntries is not exported by openclaw/plugin-sdk/agent-sessions');
    } catch (err) {
      problems.push(`importing openclaw/plugin-sdk/agent-sessions failed: ${messageOf(err)}`);
    }
  }
  // Manual compaction (lib/compaction.mjs): OpenClaw's compaction steps from agent-core, and its
  // isolated completion (the model call of its summary-model runtime, an un-hashed file OpenClaw
  // lazy-imports itself) for the summary.
  const agentCoreTarget = exportTarget(pkg, './plugin-sdk/agent-core');
  if (!agentCoreTarget) problems.push('export "openclaw/plugin-sdk/agent-core" is missing');
  else {
    try {
      const mod = await importFile(path.join(root, agentCoreTarget));
      out.agentCore = /** @type {AgentCore} */ ({});
      for (const fn of /** @type {const} */ (['prepareCompaction', 'compact', 'estimateTokens', 'buildSessionContext'])) {
        out.agentCore[fn] = mod[fn];
        if (typeof mod[fn] !== 'function') problems.push(`${fn} is not exported by openclaw/plugin-sdk/agent-core`);
      }
      out.agentCore.DEFAULT_COMPACTION_SETTINGS = mod.DEFAULT_COMPACTION_SETTINGS;
      if (!Number.isFinite(mod.DEFAULT_COMPACTION_SETTINGS?.reserveTokens)) problems.push('DEFAULT_COMPACTION_SETTINGS is not exported by openclaw/plugin-sdk/agent-core');
    } catch (err) {
      problems.push(`importing openclaw/plugin-sdk/agent-core failed: ${messageOf(err)}`);
    }
  }
  try {
    const mod = await importFile(path.join(distDir, 'summary-model.runtime.js'));
    out.runIsolatedCompletion = mod.runIsolatedCompletion;
    if (typeof out.runIsolatedCompletion !== 'function') problems.push('runIsolatedCompletion is not exported by dist/summary-model.runtime.js');
  } catch (err) {
    problems.push(`importing dist/summary-model.runtime.js failed: ${messageOf(err)}`);
  }
  // The browser's lifecycle (lib/browser.mjs): OpenClaw's stopBrowserControlService, exported by
  // name from the un-hashed file its lazy browser tool imports on its first call. Only checked here:
  // importing it would load the browser runtime into every runner, used or not; a run that used the
  // browser has loaded it already.
  const browserRuntime = path.join(distDir, 'extensions', 'browser', 'register.runtime.js');
  let browserSource = '';
  try {
    browserSource = fs.readFileSync(browserRuntime, 'utf8');
  } catch (err) {
    problems.push(`cannot read dist/extensions/browser/register.runtime.js (${codeOrMessageOf(err)})`);
  }
  if (browserSource && !/export\s*\{[^}]*\bstopBrowserControlService\b[^}]*\}/.test(browserSource)) {
    problems.push('dist/extensions/browser/register.runtime.js does not export stopBrowserControlService');
  }
  out.stopBrowserControlService = async () => {
    const mod = await importFile(browserRuntime);
    if (typeof mod.stopBrowserControlService !== 'function') throw new Error('stopBrowserControlService is not a function in dist/extensions/browser/register.runtime.js');
    await mod.stopBrowserControlService();
  };
  if (mainTarget) {
    const t1 = performance.now();
    try {
      const mod = await importFile(path.join(root, mainTarget));
      out.loadConfig = mod.loadConfig;
      if (typeof out.loadConfig !== 'function') problems.push('loadConfig is not exported by openclaw');
    } catch (err) {
      problems.push(`importing openclaw failed: ${messageOf(err)}`);
    }
    timings.mainImportMs = Math.round(performance.now() - t1);
  }
  timings.totalImportMs = Math.round(performance.now() - t0);
  if (problems.length) throw new IncompatibleOpenClaw(problems, version);
  out.timings = timings;
  return out;
}
