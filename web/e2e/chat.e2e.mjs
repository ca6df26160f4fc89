// End-to-end test of the chat page in a real browser against a running server (the Rust test harness starts
// one with a fake LLM). It assumes nothing about the reply text except that it is not empty.
//
//   SERVERLESS_OPENCLAW_E2E_URL=<page URL with ?token=...> node web/e2e/chat.e2e.mjs
//
// Optional: CHROMIUM_PATH (default /usr/bin/chromium), SERVERLESS_OPENCLAW_E2E_SCREENSHOT (a .png path).
// Prints `1 passed, 0 failed` and exits 0 on success; `0 passed, 1 failed` and exits 1 otherwise.

import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const REPLY_TIMEOUT_MS = 60_000;
const CONNECT_TIMEOUT_MS = 20_000;
const WHOLE_TEST_TIMEOUT_MS = 240_000;

const pageUrl = process.env.SERVERLESS_OPENCLAW_E2E_URL;
const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const screenshotPath = process.env.SERVERLESS_OPENCLAW_E2E_SCREENSHOT;

const started = Date.now();
const seconds = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
const step = (text) => console.log(`ok - ${text} (${seconds()})`);
/** The page URL and the socket URL carry the access token: keep it out of test logs. */
const redact = (text) => text.replace(/token=[^&\s'"]*/g, 'token=…');

class E2eFailure extends Error {}
const fail = (message) => {
  throw new E2eFailure(message);
};

/** Snapshot of the chat as the page shows it: one entry per bubble. */
async function bubbles(page) {
  return page.$$eval('[data-testid="message"]', (nodes) =>
    nodes.map((node) => ({
      role: node.getAttribute('data-role'),
      state: node.getAttribute('data-state'),
      text: node.querySelector('[data-testid="message-text"]')?.textContent ?? '',
      meta: node.querySelector('[data-testid="message-meta"]')?.textContent ?? null,
      code: node.querySelector('[data-testid="error-code"]')?.textContent ?? null,
    })),
  );
}

/**
 * Polls `check(bubbles)` until it returns a truthy value. An error bubble that was not there at `errorsBefore`
 * ends the wait at once with its text, which says more than a timeout would (e.g. no LLM provider configured).
 */
async function waitForChat(page, description, timeoutMs, errorsBefore, check) {
  const deadline = Date.now() + timeoutMs;
  let last = [];
  while (Date.now() < deadline) {
    last = await bubbles(page);
    const errors = last.filter((b) => b.role === 'error');
    if (errors.length > errorsBefore) {
      const e = errors[errors.length - 1];
      fail(`${description}: the page shows an error: ${e.text} (${e.code})`);
    }
    const result = check(last);
    if (result) return result;
    await page.waitForTimeout(100);
  }
  fail(`${description}: not seen within ${timeoutMs / 1000} s; the page shows ${JSON.stringify(last)}`);
}

async function waitForConnected(page) {
  const notice = '[data-testid="auth-error"], [data-testid="no-token"]';
  try {
    await page.waitForSelector(`[data-testid="connection-state"][data-state="open"], ${notice}`, {
      timeout: CONNECT_TIMEOUT_MS,
    });
    const shown = await page.$(notice);
    if (shown !== null) fail(`the page shows: ${(await shown.innerText()).replace(/\s+/g, ' ')}`);
    await page.waitForSelector('[data-testid="message-list"][data-history="loaded"]', { timeout: CONNECT_TIMEOUT_MS });
  } catch (error) {
    if (error instanceof E2eFailure) throw error;
    const connection = await page
      .$eval('[data-testid="connection-state"]', (n) => n.getAttribute('data-state'))
      .catch(() => 'absent');
    const history = await page
      .$eval('[data-testid="message-list"]', (n) => `${n.getAttribute('data-history')}: ${n.textContent}`)
      .catch(() => 'absent');
    fail(`the page did not connect and load its history within ${CONNECT_TIMEOUT_MS / 1000} s: connection ${connection}, history ${history}`);
  }
}

/** Types a message (Shift+Enter between lines), sends it with Enter and waits for its bubble to be acked. */
async function sendMessage(page, lines, errorsBefore) {
  const input = page.locator('[data-testid="message-input"]');
  await input.click();
  for (const [i, line] of lines.entries()) {
    if (i > 0) await input.press('Shift+Enter');
    await input.pressSequentially(line);
  }
  await input.press('Enter');
  const text = lines.join('\n');
  await waitForChat(page, `the user bubble "${lines[0]}"`, 10_000, errorsBefore, (all) =>
    all.some((b) => b.role === 'user' && b.text === text && b.state === 'sent'),
  );
  const left = await input.inputValue();
  if (left !== '') fail(`the input still holds ${JSON.stringify(left)} after sending`);
  return text;
}

/**
 * Waits until there are `count` assistant bubbles after the `from` that were there before the test, each
 * final, not empty, and showing the token footer; returns those.
 */
async function waitForReplies(page, from, count, errorsBefore) {
  return waitForChat(page, `assistant reply ${count}`, REPLY_TIMEOUT_MS, errorsBefore, (all) => {
    const replies = all.filter((b) => b.role === 'assistant').slice(from);
    if (replies.length < count) return null;
    return replies.every((b) => b.state === 'final' && b.text.trim() !== '' && /\d+ in · \d+ out/.test(b.meta ?? ''))
      ? replies
      : null;
  });
}

async function waitForIdle(page) {
  await page.waitForSelector('[data-testid="turn-status"][data-status="idle"]', { timeout: REPLY_TIMEOUT_MS });
}

async function run(page) {
  await page.goto(pageUrl);
  await waitForConnected(page);
  step(`page loaded and connected to ${new URL(pageUrl).origin}`);
  if (new URL(page.url()).searchParams.has('token')) fail('the token is still in the address bar');

  // A reused server may already hold messages: everything below counts from what is there now.
  const before = await bubbles(page);
  const userBefore = before.filter((b) => b.role === 'user').length;
  const assistantBefore = before.filter((b) => b.role === 'assistant').length;
  const errorsBefore = before.filter((b) => b.role === 'error').length;

  const first = await sendMessage(page, ['Hello from the browser test.'], errorsBefore);
  step('first message shown as a user bubble');
  const [firstReply] = await waitForReplies(page, assistantBefore, 1, errorsBefore);
  step(`first reply final with footer "${firstReply.meta}"`);
  await waitForIdle(page);

  const second = await sendMessage(page, ['A second message,', 'on two lines.'], errorsBefore);
  step('second message (with a newline) shown as a user bubble');
  const replies = await waitForReplies(page, assistantBefore, 2, errorsBefore);
  step(`second reply final; ${replies.length} new assistant bubbles`);
  await waitForIdle(page);

  const live = (await bubbles(page)).slice(-4).map(({ role, text }) => ({ role, text }));
  const expectedRoles = ['user', 'assistant', 'user', 'assistant'];
  if (live.map((b) => b.role).join() !== expectedRoles.join()) fail(`unexpected bubble order ${JSON.stringify(live)}`);
  if (live[0].text !== first || live[2].text !== second) fail(`user bubbles do not hold the sent text: ${JSON.stringify(live)}`);
  const users = (await bubbles(page)).filter((b) => b.role === 'user').length;
  if (users !== userBefore + 2) fail(`expected ${userBefore + 2} user bubbles, saw ${users}`);

  if (screenshotPath) {
    await page.screenshot({ path: screenshotPath, fullPage: true });
    step('screenshot saved');
  }

  await page.reload();
  await waitForConnected(page);
  const reloaded = await waitForChat(page, 'the history after a reload', 10_000, errorsBefore, (all) =>
    all.length >= before.length + 4 ? all : null,
  );
  const fromHistory = reloaded.slice(-4).map(({ role, text }) => ({ role, text }));
  if (JSON.stringify(fromHistory) !== JSON.stringify(live)) {
    fail(`the history after a reload differs from what was shown live:\n  live:    ${JSON.stringify(live)}\n  history: ${JSON.stringify(fromHistory)}`);
  }
  step('reload shows the 4 messages again from the history');

  await page.click('[data-testid="telegram-link-button"]');
  const link = await page.waitForSelector('[data-testid="telegram-link-code"]', { timeout: 10_000 });
  const command = (await link.textContent()) ?? '';
  if (!/^\/link [0-9]{8}$/.test(command)) fail(`the Telegram link code looks wrong: ${JSON.stringify(command)}`);
  step('"Link Telegram" shows a one-time /link code');
}

async function main() {
  if (!pageUrl) fail('set SERVERLESS_OPENCLAW_E2E_URL to the page URL, including ?token=...');
  if (!existsSync(executablePath)) {
    fail(`no Chromium at ${executablePath}: install it (apt-get install chromium) or set CHROMIUM_PATH`);
  }
  const userDataDir = await mkdtemp(join(tmpdir(), 'openclaw-e2e-'));
  const pageErrors = [];
  let context;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath,
      headless: true,
      viewport: { width: 960, height: 720 },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') console.log(`  browser console: ${redact(message.text())}`);
    });
    try {
      await run(page);
    } catch (error) {
      if (screenshotPath) await page.screenshot({ path: screenshotPath, fullPage: true }).catch(() => {});
      throw error;
    }
    if (pageErrors.length > 0) fail(`the page threw: ${pageErrors.join('; ')}`);
  } finally {
    await context?.close().catch(() => {});
    await rm(userDataDir, { recursive: true, force: true }).catch(() => {});
  }
}

const watchdog = setTimeout(() => {
  console.log(`not ok - chat e2e: gave up after ${WHOLE_TEST_TIMEOUT_MS / 1000} s`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}, WHOLE_TEST_TIMEOUT_MS);

try {
  await main();
  clearTimeout(watchdog);
  console.log(`ok - chat e2e (${seconds()})`);
  console.log('1 passed, 0 failed');
} catch (error) {
  clearTimeout(watchdog);
  const message = error instanceof E2eFailure ? error.message : (error?.stack ?? String(error));
  console.log(`not ok - chat e2e: ${redact(message)}`);
  console.log('0 passed, 1 failed');
  process.exitCode = 1;
}
