// Start-up check against fake openclaw packages (SERVERLESS_OPENCLAW_OPENCLAW_DIR): no real
// OpenClaw is loaded, so these run in well under a second each.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnRunner } from './helpers.mjs';

/**
 * @param {Record<string, string>} files
 * @param {object} [pkg]
 */
function fakePackage(files, pkg = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-openclaw-'));
  const manifest = {
    name: 'openclaw',
    version: '2026.9.6',
    type: 'module',
    exports: { '.': './dist/index.js', './plugin-sdk/agent-sessions': { default: './dist/plugin-sdk/agent-sessions.js' } },
    ...pkg,
  };
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(manifest));
  for (const [rel, body] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), body);
  }
  return dir;
}

const configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'runner-config-'));
const configPath = path.join(configDir, 'openclaw.json5');
fs.writeFileSync(configPath, '{ agents: { entries: { main: {} } } }\n');
process.on('exit', () => fs.rmSync(configDir, { recursive: true, force: true }));

/**
 * @param {string} dir
 * @param {NodeJS.ProcessEnv} [env]
 */
async function runFatal(dir, env = { OPENCLAW_CONFIG_PATH: configPath }) {
  const r = spawnRunner({ SERVERLESS_OPENCLAW_OPENCLAW_DIR: dir, ...env });
  try {
    const { code } = await r.exit;
    return { code, lines: r.lines, stderr: r.stderr };
  } finally {
    r.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** @param {{ code: number | null, lines: string[], stderr: string }} result */
function onlyFatal(result, code = 'incompatible_openclaw') {
  assert.equal(result.code, 78, `exit status; stderr: ${result.stderr}`);
  assert.equal(result.lines.length, 1, `stdout must carry only the fatal line, got ${JSON.stringify(result.lines)}`);
  const line = JSON.parse(result.lines[0] ?? 'null');
  assert.equal(line.type, 'fatal');
  assert.equal(line.code, code);
  if (code === 'incompatible_openclaw') assert.match(line.message, /2026\.9\.6/);
  return line;
}

test('package without the internals: fatal incompatible_openclaw, exit 78', async () => {
  const dir = fakePackage({
    'dist/index.js': 'export function loadConfig() { return {}; }\n',
    'dist/plugin-sdk/agent-sessions.js': 'export class SessionManager {}\n',
  });
  const line = onlyFatal(await runFatal(dir));
  assert.match(line.message, /run-embedded\.runtime\.js/);
  assert.match(line.message, /admitted-run-context/);
  assert.match(line.message, /prepared-model-runtime/);
  assert.match(line.message, /no dist\/refresh-state-<hash>\.mjs chunk/);
});

test('internals with the wrong shape are named, and OpenClaw stdout noise goes to stderr', async () => {
  const dir = fakePackage({
    'dist/index.js': 'export const loadConfig = 1;\n',
    // Prints to stdout at import time, like a chatty dependency: must not reach the protocol.
    'dist/run-embedded.runtime.js':
      'console.log("noise via console.log"); console.info("noise via console.info"); process.stdout.write("noise via stdout.write\\n");\nexport const runEmbeddedAgent = "not a function";\n',
    'dist/admitted-run-context-AbC123.mjs': 'function somethingElse() {}\nexport { somethingElse as a };\n',
    // Two copies of one internal: which one OpenClaw's runs use cannot be told.
    'dist/prepared-model-runtime-AbC123.mjs': 'export const t = function acquireAgentRunPreparedModelRuntime() {};\n',
    'dist/prepared-model-runtime-DeF456.mjs': 'export const t = function acquireAgentRunPreparedModelRuntime() {};\n',
    'dist/refresh-state-AbC123.mjs': 'function somethingElse() {}\nexport { somethingElse as t };\n',
    'dist/plugin-sdk/agent-sessions.js': 'export class SessionManager {}\nexport function parseSessionEntries() { return []; }\n',
    'dist/extensions/browser/register.runtime.js': 'async function stopBrowserRuntime() {}\nexport { stopBrowserRuntime };\n',
  });
  const result = await runFatal(dir);
  const line = onlyFatal(result);
  assert.match(line.message, /runEmbeddedAgent is not exported as a function/);
  assert.match(line.message, /no function named prepareSystemAgentRunAdmission/);
  assert.match(line.message, /2 different functions named acquireAgentRunPreparedModelRuntime/);
  assert.match(line.message, /no function named bumpSkillsSnapshotVersion in dist\/refresh-state-\*\.mjs/);
  assert.match(line.message, /SessionManager\.inMemory is missing/);
  assert.match(line.message, /loadConfig is not exported/);
  assert.match(line.message, /register\.runtime\.js does not export stopBrowserControlService/);
  assert.match(line.message, /openclaw\/plugin-sdk\/agent-core" is missing/);
  assert.match(line.message, /summary-model\.runtime\.js/);
  assert.match(result.stderr, /noise via console\.log/);
  assert.match(result.stderr, /noise via stdout\.write/);
});

test('other openclaw version: fatal naming expected and found versions', async () => {
  const dir = fakePackage({}, { version: '2026.10.1' });
  const line = onlyFatal(await runFatal(dir));
  assert.match(line.message, /expects openclaw 2026\.9\.6 \(found 2026\.10\.1\)/);
});

test('install scripts that did not run are detected', async () => {
  const dir = fakePackage({ '.openclaw-lifecycle-pending': '' });
  const line = onlyFatal(await runFatal(dir));
  assert.match(line.message, /postinstall did not run/);
});

test('missing package directory: fatal', async () => {
  const line = onlyFatal(await runFatal(path.join(os.tmpdir(), `no-such-openclaw-${process.pid}`)));
  assert.match(line.message, /package\.json/);
});

test('OPENCLAW_CONFIG_PATH unset or naming no file: fatal config_error, before OpenClaw is loaded', async () => {
  let line = onlyFatal(await runFatal(fakePackage({}), {}), 'config_error');
  assert.match(line.message, /OPENCLAW_CONFIG_PATH is not set/);
  line = onlyFatal(await runFatal(fakePackage({}), { OPENCLAW_CONFIG_PATH: path.join(configDir, 'missing.json5') }), 'config_error');
  assert.match(line.message, /does not exist/);
});
