// End to end against the installed OpenClaw and the in-process fake LLM: images named on a `run` line
// reach the model as image blocks (Anthropic Messages and OpenAI chat completions), stay in the
// transcript the runner writes, and an image file that cannot be read fails the run; a reply's `MEDIA:`
// line comes back as the result's `media`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { spawnRunner, runnerHome } from './helpers.mjs';
import { startFakeLlm, FAKE_REPLY } from './fake-llm.mjs';

/** @import { FakeLlm } from './fake-llm.mjs' */

/** A small valid PNG (w×h, one colour): under OpenClaw's 1200 px, so it is sent as it is. */
/**
 * @param {number} width
 * @param {number} height
 * @param {[number, number, number]} colour
 */
function png(width, height, [r, g, b]) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  /** @param {Buffer} buf */
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const byte of buf) c = /** @type {number} */ (crcTable[(c ^ byte) & 0xff]) ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  /**
   * @param {string} type
   * @param {Buffer} data
   */
  const chunk = (type, data) => {
    const body = Buffer.concat([Buffer.from(type), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc(body), body.length + 4);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: width }, () => [r, g, b]).flat())]);
  const pixels = zlib.deflateSync(Buffer.concat(Array.from({ length: height }, () => row)));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header), chunk('IDAT', pixels), chunk('IEND', Buffer.alloc(0))]);
}

/**
 * @param {FakeLlm} fake
 * @param {string} api
 */
function provider(fake, api) {
  const baseUrl = api === 'anthropic-messages' ? fake.url : `${fake.url}/v1`;
  return { baseUrl, api, models: [{ id: 'vision', name: 'vision', input: ['text', 'image'], contextWindow: 200000, maxTokens: 8192 }] };
}

test('images on a run line reach the model as image blocks, with either API, and stay in the transcript', { timeout: 300_000 }, async () => {
  const fake = await startFakeLlm();
  const { root, env } = runnerHome(() => ({
    agents: { defaults: { model: { primary: 'custom/vision' } }, entries: { main: {} } },
    models: { catalogRefresh: { enabled: false } },
    update: { checkOnStart: false, auto: { enabled: false } },
    telemetry: { enabled: false },
  }));
  const red = png(8, 8, [255, 0, 0]);
  const blue = png(4, 6, [0, 0, 255]);
  fs.writeFileSync(path.join(root, 'red.png'), red);
  fs.writeFileSync(path.join(root, 'blue.png'), blue);
  const r = spawnRunner(env);
  try {
    await r.waitFor((l) => l.type === 'ready', 120_000);
    /**
     * @param {string} id
     * @param {string} api
     * @param {Array<{ path: string, mimeType: string }>} images
     */
    const run = (id, api, images) => {
      r.send({
        type: 'run', id, sessionId: `s-${id}`, transcriptPath: path.join(root, `${id}.in.jsonl`), transcriptOutPath: path.join(root, `${id}.out.jsonl`),
        workspaceDir: path.join(root, 'ws'), prompt: 'what are these?', timeoutMs: 90_000, disableTools: true, images,
        llm: { providerId: 'custom', model: 'vision', apiKey: 'k-images', provider: provider(fake, api) },
      });
      return r.waitFor((l) => l.id === id && (l.type === 'result' || l.type === 'error'), 150_000);
    };
    const both = [{ path: path.join(root, 'red.png'), mimeType: 'image/png' }, { path: path.join(root, 'blue.png'), mimeType: 'image/png' }];
    const wanted = [{ mediaType: 'image/png', data: red.toString('base64') }, { mediaType: 'image/png', data: blue.toString('base64') }];

    const anthropic = await run('t-a', 'anthropic-messages', both);
    assert.equal(anthropic.type, 'result', JSON.stringify(anthropic));
    assert.equal(anthropic.text, FAKE_REPLY);
    assert.deepEqual(fake.requests.at(-1)?.images, wanted, 'Anthropic gets both images, in order, byte for byte');
    const transcript = fs.readFileSync(path.join(root, 't-a.out.jsonl'), 'utf8');
    assert.ok(transcript.includes(red.toString('base64')), 'the transcript keeps the image for later turns');

    const openai = await run('t-o', 'openai-completions', both.slice(0, 1));
    assert.equal(openai.type, 'result', JSON.stringify(openai));
    assert.equal(fake.requests.at(-1)?.path, '/v1/chat/completions');
    assert.deepEqual(fake.requests.at(-1)?.images, wanted.slice(0, 1), 'OpenAI chat completions gets the image as a data URL');

    // The model attaches a file of the workspace with a MEDIA: line: OpenClaw takes it out of the text.
    fs.mkdirSync(path.join(root, 'ws'), { recursive: true });
    fs.writeFileSync(path.join(root, 'ws', 'chart.png'), red);
    fake.texts.push('Here is the chart.\n\nMEDIA:./chart.png');
    const produced = await run('t-p', 'anthropic-messages', []);
    assert.equal(produced.type, 'result', JSON.stringify(produced));
    assert.equal(produced.text, 'Here is the chart.');
    assert.deepEqual(produced.media, ['./chart.png']);

    const sent = fake.requests.length;
    const missing = await run('t-m', 'anthropic-messages', [{ path: path.join(root, 'gone.png'), mimeType: 'image/png' }]);
    assert.equal(missing.type, 'error');
    assert.equal(missing.code, 'internal');
    assert.match(missing.message, /gone\.png/);
    assert.equal(fake.requests.length, sent, 'a run whose image cannot be read never reaches the model');
  } finally {
    r.kill();
    await fake.close();
  }
});
