// The environment of `runner.mjs --prime` (an image build step, see docs/runner-protocol.md):
// OpenClaw needs a config and writable state, home and temp folders, which a build has not got. They
// are made in a temporary folder, removed when priming ends; only the compile cache is kept.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The config of priming: the headless part of the config the host renders (docs/runner-protocol.md,
 * "Config the host renders"), without a provider (the warm-up brings its own) and without the host's
 * `plugins.allow` and `tools.updatePlan`: OpenClaw then loads every bundled plugin and tool, a superset
 * of what a deployment's runner loads, so the cache covers it whatever the host's settings.
 */
/** @param {string} stateDir */
function primeConfig(stateDir) {
  return {
    agents: { entries: { main: {} } },
    models: { catalogRefresh: { enabled: false } },
    update: { checkOnStart: false, auto: { enabled: false } },
    telemetry: { enabled: false },
    logging: { file: path.join(stateDir, 'logs', 'openclaw.log') },
  };
}

/** Creates the folders and config and points `env` at them. Returns `{ root }` to remove afterwards. */
/** @param {NodeJS.ProcessEnv} env */
export function preparePrimeEnvironment(env) {
  const root = fs.mkdtempSync(path.join(env.TMPDIR || os.tmpdir(), 'openclaw-prime-'));
  const dirs = { state: path.join(root, 'state'), home: path.join(root, 'home'), tmp: path.join(root, 'tmp') };
  for (const dir of Object.values(dirs)) fs.mkdirSync(dir);
  const configPath = path.join(root, 'openclaw.json');
  fs.writeFileSync(configPath, JSON.stringify(primeConfig(dirs.state)));
  Object.assign(env, {
    OPENCLAW_CONFIG_PATH: configPath,
    OPENCLAW_STATE_DIR: dirs.state,
    OPENCLAW_HOME: dirs.home,
    HOME: dirs.home,
    TMPDIR: dirs.tmp,
    SQLITE_TMPDIR: dirs.tmp,
    // The headless switches the host sets (crates/agent/src/config.rs, HEADLESS_ENV).
    OPENCLAW_DISABLE_BONJOUR: '1',
    OPENCLAW_SKIP_CHANNELS: '1',
    OPENCLAW_NO_RESPAWN: '1',
    OPENCLAW_NO_AUTO_UPDATE: '1',
    DO_NOT_TRACK: '1',
  });
  return { root };
}
