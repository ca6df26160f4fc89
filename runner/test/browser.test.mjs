// OpenClaw's browser tool end to end: the installed OpenClaw, a real Chromium and a fake LLM that scripts
// `browser` calls. A page served here holds a random phrase; the turn reads it, is refused loopback and
// link-local addresses, takes a screenshot that becomes the turn's media, and leaves no Chromium and no
// profile behind. A turn without the browser starts no Chromium; a user with the browser off, or a
// guest with restricted tools, cannot call it. Needs a Chromium (SERVERLESS_OPENCLAW_CHROMIUM, else one on PATH; `make chromium`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { browserConfig, descendants, spawnRunner, runnerHome } from './helpers.mjs';
import { startFakeLlm } from './fake-llm.mjs';
import { moveDownloads, withBrowserAccess } from '../lib/browser.mjs';
import { parseRequest, BadRequest } from '../lib/protocol.mjs';

/** The Chromium to test with: the configured one, else the first of the usual names on PATH. */
function findChromium() {
  const configured = process.env.SERVERLESS_OPENCLAW_CHROMIUM;
  if (configured) return configured;
  for (const name of ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable', 'chrome']) {
    for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
      const candidate = path.join(dir, name);
      try {
        fs.accessSync(candidate, fs.constants.X_OK);
        return candidate;
      } catch {
        /* next */
      }
    }
  }
  return null;
}

/** @param {number} pid */
const chromiumsUnder = (pid) => descendants(pid).filter((p) => p.cmdline.includes('--remote-debugging-port'));

test('a run whose user turned the browser off has it denied; one that may browse is unchanged', () => {
  const config = { tools: { deny: ['group:ui'], updatePlan: false } };
  assert.equal(withBrowserAccess(config, true), config);
  assert.deepEqual(withBrowserAccess(config, false).tools, { deny: ['group:ui', 'browser'], updatePlan: false });
  assert.deepEqual(withBrowserAccess(/** @type {import('../types.d.ts').OpenClawConfig} */ ({}), false).tools, { deny: ['browser'] });
  assert.deepEqual(config.tools.deny, ['group:ui'], 'the runner-wide config is not changed');
});

test('a run line may turn the browser off; it is on when the line does not say', () => {
  const line = { type: 'run', id: 'r1', sessionId: 's', transcriptPath: '/t/in', transcriptOutPath: '/t/out', workspaceDir: '/w', prompt: 'hi' };
  assert.equal(/** @type {any} */ (parseRequest(JSON.stringify(line))).browser, true);
  assert.equal(/** @type {any} */ (parseRequest(JSON.stringify({ ...line, browser: false }))).browser, false);
  assert.throws(() => parseRequest(JSON.stringify({ ...line, browser: 'no' })), (err) => err instanceof BadRequest && /"browser" must be a boolean/.test(err.message));
});

test("the browser's downloads move into the workspace, numbered when a name is taken", async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'downloads-test-'));
  try {
    const downloads = path.join(root, 'dl');
    const workspace = path.join(root, 'ws');
    assert.deepEqual(await moveDownloads(downloads, workspace), [], 'no download folder, nothing moved');
    fs.mkdirSync(downloads);
    fs.mkdirSync(path.join(workspace, 'downloads'), { recursive: true });
    fs.writeFileSync(path.join(workspace, 'downloads', 'report.pdf'), 'older');
    fs.writeFileSync(path.join(downloads, 'report.pdf'), 'newer');
    fs.writeFileSync(path.join(downloads, 'data.csv'), 'a,b');
    const moved = (await moveDownloads(downloads, workspace)).sort();
    assert.deepEqual(moved, [path.join('downloads', '2-report.pdf'), path.join('downloads', 'data.csv')]);
    assert.equal(fs.readFileSync(path.join(workspace, 'downloads', 'report.pdf'), 'utf8'), 'older');
    assert.equal(fs.readFileSync(path.join(workspace, 'downloads', '2-report.pdf'), 'utf8'), 'newer');
    assert.deepEqual(fs.readdirSync(downloads), [], 'the download folder is emptied');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('the browser reads a page, refuses loopback and link-local addresses, and is gone after its turn', { timeout: 600_000 }, async () => {
  const chromium = findChromium();
  assert.ok(chromium, 'no Chromium: run `make chromium` or set SERVERLESS_OPENCLAW_CHROMIUM');
  const phrase = `PHRASE-${randomBytes(8).toString('hex')}`;
  const page = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<html><head><title>test page</title></head><body><main><h1>Hello</h1><p>${phrase}</p></main></body></html>`);
  });
  await /** @type {Promise<void>} */ (new Promise((resolve) => page.listen(0, '127.0.0.1', resolve)));
  const port = /** @type {import('node:net').AddressInfo} */ (page.address()).port;
  const fake = await startFakeLlm();
  const { root, dirs, env } = runnerHome(() => browserConfig(chromium));
  const r = spawnRunner(env);
  const runnerPid = /** @type {number} */ (r.child.pid);
  const workspaceDir = path.join(root, 'ws');
  const llm = {
    providerId: 'custom', model: 'browse-model', apiKey: 'sk-browser-test',
    provider: { baseUrl: fake.url, api: 'anthropic-messages', models: [{ id: 'browse-model', name: 'browse-model', input: ['text', 'image'], contextWindow: 200000, maxTokens: 8192 }] },
  };
  let n = 0;
  /**
   * @param {Array<Array<{ name: string, input: unknown }>>} calls
   * @param {object} [extra] more fields of the run line
   */
  const turn = async (calls, extra = {}) => {
    const id = `b-${++n}`;
    fake.toolCalls.push(...calls);
    const before = fake.requests.length;
    r.send({
      type: 'run', id, sessionId: `s-${n}`, transcriptPath: path.join(root, `in-${n}.jsonl`), transcriptOutPath: path.join(root, `out-${n}.jsonl`),
      workspaceDir, prompt: 'use the browser', timeoutMs: 240_000, disableTools: false, llm, ...extra,
    });
    const result = await r.waitFor((l) => l.id === id && (l.type === 'result' || l.type === 'error'), 300_000);
    assert.equal(result.type, 'result', JSON.stringify(result));
    const tools = r.lines.map((l) => JSON.parse(l)).filter((l) => l.id === id && l.type === 'tool' && l.status !== 'running');
    return { result, tools, requests: fake.requests.slice(before) };
  };
  try {
    await r.waitFor((l) => l.type === 'ready', 180_000);
    await r.waitFor((l) => l.type === 'warm', 180_000);

    const plain = await turn([]);
    assert.deepEqual(plain.tools, []);
    assert.deepEqual(chromiumsUnder(runnerPid), [], 'a turn without the browser starts no Chromium');

    const off = await turn([[{ name: 'browser', input: { action: 'open', url: `http://127.0.0.1:${port}/` } }]], { browser: false });
    assert.deepEqual(off.tools.map((t) => [t.name, t.status]), [['browser', 'error']], 'the browser is denied to a user who turned it off');
    assert.ok(!off.requests.some((q) => q.messages.includes(phrase)));
    assert.deepEqual(chromiumsUnder(runnerPid), []);

    // A guest's restricted tools deny `group:ui`, which holds the browser.
    const guest = await turn([[{ name: 'browser', input: { action: 'open', url: `http://127.0.0.1:${port}/` } }]], { tools: 'restricted' });
    assert.deepEqual(guest.tools.map((t) => [t.name, t.status]), [['browser', 'error']], 'a guest cannot browse');
    assert.deepEqual(chromiumsUnder(runnerPid), []);

    const browsing = await turn([
      [{ name: 'browser', input: { action: 'open', url: `http://127.0.0.1:${port}/page` } }],
      [{ name: 'browser', input: { action: 'text', maxChars: 2000 } }],
      [{ name: 'browser', input: { action: 'open', url: 'http://169.254.169.254/latest/meta-data/' } }],
      [{ name: 'browser', input: { action: 'open', url: `http://localhost:${port}/page` } }],
      [{ name: 'browser', input: { action: 'navigate', url: `http://127.0.0.2:${port}/page` } }],
      [{ name: 'browser', input: { action: 'screenshot' } }],
    ]);
    assert.deepEqual(
      browsing.tools.map((t) => [t.name, t.summary, t.status]),
      [
        ['browser', `http://127.0.0.1:${port}/page`, 'ok'],
        ['browser', 'text', 'ok'],
        ['browser', 'http://169.254.169.254/latest/meta-data/', 'error'],
        ['browser', `http://localhost:${port}/page`, 'error'],
        ['browser', `http://127.0.0.2:${port}/page`, 'error'],
        ['browser', 'screenshot', 'ok'],
      ],
    );
    // The request after `text` carries its tool result: the page's phrase.
    assert.ok(browsing.requests[2]?.messages.includes(phrase), 'the phrase reaches the model in the tool result');
    const refusals = browsing.requests.at(-2)?.messages ?? '';
    assert.equal(refusals.match(/blocked by policy/g)?.length, 3, 'each refused address is refused by policy');
    // An image block inside the screenshot's tool result (not base64 inside JSON text).
    assert.match(browsing.requests.at(-1)?.messages ?? '', /"type":"tool_result".*"type":"image","source":\{"type":"base64","media_type":"image\/png"/, 'the screenshot reaches the model as an image');

    const media = browsing.result.media ?? [];
    assert.equal(media.length, 1, JSON.stringify(browsing.result));
    assert.match(media[0], /^\.attachments\/browser\/screenshot-1-.+\.png$/);
    const png = fs.readFileSync(path.join(workspaceDir, media[0]));
    assert.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], 'a PNG');

    assert.deepEqual(chromiumsUnder(runnerPid), [], 'no Chromium is left after the browsing turn');
    assert.doesNotMatch(r.stderr, /killed Chromium|stopping the browser failed/, "OpenClaw's own stop closed it");
    const browserState = path.join(dirs.state, 'browser');
    const profiles = fs.existsSync(browserState) ? fs.readdirSync(browserState) : [];
    assert.ok(profiles.length > 0, 'the browser kept its profile in the state dir');
    for (const profile of profiles) assert.ok(!fs.existsSync(path.join(browserState, profile, 'user-data')), `no user-data left in ${profile}`);
    assert.ok(fs.existsSync(path.join(dirs.state, 'media', 'browser')), 'OpenClaw kept its screenshot copies there');
    for (const copies of ['browser', 'outbound']) {
      const dir = path.join(dirs.state, 'media', copies);
      assert.deepEqual(fs.existsSync(dir) ? fs.readdirSync(dir) : [], [], `no screenshot left in media/${copies}`);
    }
  } finally {
    const left = chromiumsUnder(runnerPid);
    r.kill();
    for (const { pid } of left) process.kill(pid, 'SIGKILL');
    await fake.close();
    page.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});
