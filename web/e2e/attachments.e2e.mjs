// Attachments in a real browser against a running server. crates/cli/tests/browser_attachments.rs starts
// local mode with the real runner and a fake LLM, makes the conversation this script opens, queues the fake's
// answers (a `read` of the attached file, then a reply) and checks afterwards what reached the fake and what
// the server stored. In order:
//
//   1. refused: an oversized image (refused by the page), a "PNG" that is text (corrupt_file) and a zip
//      (unsupported_type) each show their error on their chip; removed with ✕
//   2. attach: an image with the file picker, a second one pasted into the message box, a text file dropped
//      on the chat; previews; Send sends them with the text
//   3. sent: the message shows both images (through their download links) and the file as a download chip; the
//      reply comes; after a reload the history shows them again
//   4. download: the file chip downloads the file's bytes
//   5. produced: the agent makes an image (a scripted shell command) and attaches it to its reply; the page
//      shows it under the reply, and again after a reload
//
//   SERVERLESS_OPENCLAW_E2E_URL=<page URL with ?token=...>
//   SERVERLESS_OPENCLAW_E2E_CONVERSATION=<the conversation to open>
//   SERVERLESS_OPENCLAW_E2E_FILES=<a folder with red.png, blue.png and notes.txt>
//   node web/e2e/attachments.e2e.mjs
//
// Optional: CHROMIUM_PATH, SERVERLESS_OPENCLAW_E2E_SCREENSHOTS (attachments-composer.png,
// attachments-sent.png, attachments-produced.png; on failure attachments-failure.png).
// Prints `N passed, 0 failed` and exits 0 on success; exits 1 at the first failing scenario.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fail, progress, redactToken, report, runScenarios, waitFor } from './scenarios.mjs';

const TIMEOUT_MS = 60_000;
const WHOLE_TEST_TIMEOUT_MS = 240_000;

const pageUrl = process.env.SERVERLESS_OPENCLAW_E2E_URL;
const conversation = process.env.SERVERLESS_OPENCLAW_E2E_CONVERSATION;
const files = process.env.SERVERLESS_OPENCLAW_E2E_FILES;
const screenshots = process.env.SERVERLESS_OPENCLAW_E2E_SCREENSHOTS;

const { step, screenshot } = progress(screenshots);

/** The composer's chips as the page shows them. */
const chips = (page) =>
  page.$$eval('[data-testid="pending-attachment"]', (nodes) =>
    nodes.map((n) => ({
      status: n.getAttribute('data-status'),
      text: n.textContent ?? '',
      error: n.querySelector('[data-testid="attachment-error"]')?.textContent ?? null,
      preview: n.querySelector('img')?.getAttribute('src') ?? null,
    })),
  );

/** Puts files on the page as a user's gesture would: `how` is `paste` (into the message box) or `drop` (on the chat). */
async function gesture(page, how, list) {
  await page.evaluate(
    ([how, list]) => {
      const transfer = new DataTransfer();
      for (const f of list) {
        const bytes = Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0));
        transfer.items.add(new File([bytes], f.name, { type: f.type }));
      }
      if (how === 'paste') {
        document
          .querySelector('[data-testid="message-input"]')
          .dispatchEvent(new ClipboardEvent('paste', { clipboardData: transfer, bubbles: true, cancelable: true }));
      } else {
        const chat = document.querySelector('section.chat');
        chat.dispatchEvent(new DragEvent('dragover', { dataTransfer: transfer, bubbles: true, cancelable: true }));
        chat.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
      }
    },
    [how, list],
  );
}

const file = (name, type) => ({ name, type, base64: readFileSync(join(files, name)).toString('base64') });

async function open(page) {
  await page.goto(pageUrl);
  await page.waitForSelector('[data-testid="connection-state"][data-state="open"]', { timeout: TIMEOUT_MS });
  await page.click(`[data-testid="conversation-item"][data-id="${conversation}"] .conversation-choose`);
  await page.waitForSelector(`[data-testid="message-list"][data-conversation-id="${conversation}"][data-history="loaded"]`);
  step('the conversation is open');
}

async function refused(page) {
  const input = page.locator('[data-testid="file-input"]');
  await input.setInputFiles([
    { name: 'huge.png', mimeType: 'image/png', buffer: Buffer.alloc(10 * 1024 * 1024 + 1, 0x89) },
    { name: 'fake.png', mimeType: 'image/png', buffer: Buffer.from('these are words, not a picture') },
    { name: 'archive.zip', mimeType: 'application/zip', buffer: Buffer.from('PK\u0003\u0004 zipped') },
  ]);
  const shown = await waitFor(page, 'three refused chips', TIMEOUT_MS, async () => {
    const seen = await chips(page);
    return { done: seen.length === 3 && seen.every((c) => c.status === 'failed'), value: seen, seen };
  });
  const errors = shown.map((c) => c.error ?? '');
  if (!/huge\.png is 10\.5 MB; an image may be at most 10 MiB/.test(errors[0])) fail(`the oversized image says ${errors[0]}`);
  if (!/says it is image\/png, but its bytes are not/.test(errors[1])) fail(`the corrupt image says ${errors[1]}`);
  if (!/application\/zip files are not accepted/.test(errors[2])) fail(`the zip says ${errors[2]}`);
  if (!(await page.isDisabled('[data-testid="send-button"]'))) fail('Send is enabled with only refused attachments and no text');
  step(`each refusal is on its chip: ${errors.map((e) => JSON.stringify(e)).join(', ')}`);
  for (let i = 0; i < 3; i += 1) await page.click('[data-testid="remove-attachment"]');
  if ((await chips(page)).length !== 0) fail('the refused chips did not go');
  step('✕ removed them');
}

/** Waits until the composer holds `n` uploaded chips. */
const uploaded = (page, n) =>
  waitFor(page, `${n} uploaded chips`, TIMEOUT_MS, async () => {
    const seen = await chips(page);
    return { done: seen.length === n && seen.every((c) => c.status === 'ready'), value: seen, seen };
  });

async function attach(page) {
  // One at a time: attachments keep the order they were uploaded in.
  await page.locator('[data-testid="file-input"]').setInputFiles(join(files, 'red.png'));
  await uploaded(page, 1);
  await gesture(page, 'paste', [file('blue.png', 'image/png')]);
  await uploaded(page, 2);
  await gesture(page, 'drop', [file('notes.txt', 'text/plain')]);
  const ready = await uploaded(page, 3);
  if (!ready[0].preview?.startsWith('blob:') || !ready[1].preview?.startsWith('blob:') || ready[2].preview !== null) {
    fail(`previews: ${JSON.stringify(ready)}`);
  }
  step('picked, pasted and dropped files uploaded, the images previewed');
  await page.fill('[data-testid="message-input"]', 'What is in these?');
  await screenshot(page, 'attachments-composer.png');
  await page.click('[data-testid="send-button"]');
  await page.waitForSelector('[data-testid="message"][data-role="user"][data-state="sent"] [data-testid="message-attachments"]', {
    timeout: TIMEOUT_MS,
  });
  if ((await chips(page)).length !== 0) fail('the composer still holds the sent attachments');
  step('sent with the text; the composer is empty again');
}

/** The sent message's images (loaded) and files. */
const shownAttachments = (page) =>
  page.$$eval('[data-testid="message"][data-role="user"] [data-testid="message-attachments"]', (nodes) =>
    nodes.map((n) => ({
      images: [...n.querySelectorAll('img[data-testid="attachment-image"]')].map((img) => ({ alt: img.alt, width: img.naturalWidth })),
      files: [...n.querySelectorAll('[data-testid="attachment-file"]')].map((f) => f.textContent ?? ''),
    })),
  );

async function sent(page) {
  const check = async () => {
    const seen = await shownAttachments(page);
    const last = seen.at(-1);
    const done = last !== undefined && last.images.length === 2 && last.images.every((i) => i.width > 0) && last.files.length === 1;
    return { done, value: last, seen };
  };
  const first = await waitFor(page, 'the sent images and file', TIMEOUT_MS, check);
  if (first.images.map((i) => i.alt).join() !== 'red.png,blue.png' || !first.files[0].includes('notes.txt')) {
    fail(`the message shows ${JSON.stringify(first)}`);
  }
  step('the message shows both images and the file');
  await page.waitForSelector('[data-testid="message"][data-role="assistant"][data-state="final"]', { timeout: TIMEOUT_MS });
  await page.waitForSelector('[data-testid="turn-status"][data-status="idle"]', { state: 'attached', timeout: TIMEOUT_MS });
  step('the agent answered');
  await screenshot(page, 'attachments-sent.png');
  await page.reload();
  await page.waitForSelector(`[data-testid="message-list"][data-conversation-id="${conversation}"][data-history="loaded"]`, {
    timeout: TIMEOUT_MS,
  });
  const again = await waitFor(page, 'the images and file after a reload', TIMEOUT_MS, check);
  step(`after a reload the history shows them again: ${JSON.stringify(again)}`);
}

async function download(page) {
  const [downloaded] = await Promise.all([
    page.waitForEvent('download', { timeout: TIMEOUT_MS }),
    page.click('[data-testid="attachment-file"] button'),
  ]);
  const path = await downloaded.path();
  const bytes = readFileSync(path);
  if (downloaded.suggestedFilename() !== 'notes.txt' || !bytes.equals(readFileSync(join(files, 'notes.txt')))) {
    fail(`downloaded ${downloaded.suggestedFilename()} with ${bytes.length} bytes`);
  }
  step('the file chip downloads the file, byte for byte');
}

/** The images under the last reply, as loaded. */
const replyImages = (page) =>
  page.$$eval('[data-testid="message"][data-role="assistant"]', (nodes) =>
    [...(nodes.at(-1)?.querySelectorAll('img[data-testid="attachment-image"]') ?? [])].map((img) => ({
      alt: img.alt,
      width: img.naturalWidth,
    })),
  );

async function produced(page) {
  const replies = await page.$$('[data-testid="message"][data-role="assistant"]');
  await page.fill('[data-testid="message-input"]', 'Draw me a chart.');
  await page.click('[data-testid="send-button"]');
  const check = async () => {
    const all = await page.$$('[data-testid="message"][data-role="assistant"][data-state="final"]');
    const seen = all.length > replies.length ? await replyImages(page) : [];
    return { done: seen.length === 1 && seen[0].width === 5 && seen[0].alt === 'chart.png', value: seen, seen };
  };
  await waitFor(page, 'the image the agent attached to its reply', TIMEOUT_MS, check);
  step('the image the agent made is shown under its reply');
  await screenshot(page, 'attachments-produced.png');
  await page.reload();
  await page.waitForSelector(`[data-testid="message-list"][data-conversation-id="${conversation}"][data-history="loaded"]`, {
    timeout: TIMEOUT_MS,
  });
  await waitFor(page, 'the agent’s image after a reload', TIMEOUT_MS, async () => {
    const seen = await replyImages(page);
    return { done: seen.length === 1 && seen[0].width === 5, value: seen, seen };
  });
  step('and again after a reload');
}

const SCENARIOS = [open, refused, attach, sent, download, produced];

await report(
  'attachments e2e',
  WHOLE_TEST_TIMEOUT_MS,
  () => {
    if (!pageUrl || !conversation || !files)
      fail('set SERVERLESS_OPENCLAW_E2E_URL, SERVERLESS_OPENCLAW_E2E_CONVERSATION and SERVERLESS_OPENCLAW_E2E_FILES');
    return runScenarios({
      scenarios: SCENARIOS,
      viewport: { width: 960, height: 720 },
      screenshots,
      failureShot: 'attachments-failure.png',
      redact: redactToken,
    });
  },
  redactToken,
);
