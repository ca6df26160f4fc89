// Edit and regenerate in a real browser against a running server. crates/cli/tests/browser_versions.rs
// starts local mode with the real runner and a fake LLM whose answers are queued (FIRST, SECOND, QUOKKA, then
// every request fails), makes the conversation this script opens, and checks afterwards what the fake was
// sent. In order:
//
//   1. ask: a question is answered (FIRST)
//   2. regenerate: Regenerate on the reply gives a second answer (SECOND), shown as 2/2; "<" shows the first
//      again as 1/2 (view-only: no Edit or Regenerate on it), ">" goes back
//   3. edit: Edit on the question, a new text, Save: the edited question is answered (QUOKKA), 3/3; the
//      earlier versions stay browsable, also after a reload
//   4. failed rerun: Regenerate while the model fails shows the error; after a reload the question (4/4)
//      offers Regenerate again, and the earlier answer is still there, one version back
//
//   SERVERLESS_OPENCLAW_E2E_URL=<page URL with ?token=...>
//   SERVERLESS_OPENCLAW_E2E_CONVERSATION=<the conversation to open>
//   node web/e2e/versions.e2e.mjs
//
// Optional: CHROMIUM_PATH, SERVERLESS_OPENCLAW_E2E_SCREENSHOTS (versions-regenerated.png, versions-first.png,
// versions-editing.png, versions-edited.png, versions-failed.png; on failure versions-failure.png).
// Prints `N passed, 0 failed` and exits 0 on success; exits 1 at the first failing scenario.

import { join } from 'node:path';
import { fail, report, runScenarios } from './scenarios.mjs';

const TIMEOUT_MS = 120_000;
const WHOLE_TEST_TIMEOUT_MS = 480_000;

const pageUrl = process.env.SERVERLESS_OPENCLAW_E2E_URL;
const conversation = process.env.SERVERLESS_OPENCLAW_E2E_CONVERSATION;
const screenshots = process.env.SERVERLESS_OPENCLAW_E2E_SCREENSHOTS;

const started = Date.now();
const seconds = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
const step = (text) => console.log(`  ok - ${text} (${seconds()})`);
const redact = (text) => text.replace(/token=[^&\s'"]*/g, 'token=…');

async function screenshot(page, name) {
  if (!screenshots) return;
  await page.screenshot({ path: join(screenshots, name), fullPage: false });
  step(`screenshot ${name}`);
}

/** The messages as the page shows them: role and text. */
const shown = (page) =>
  page.$$eval('[data-testid="message"]', (nodes) =>
    nodes.map((n) => ({ role: n.getAttribute('data-role'), text: n.querySelector('[data-testid="message-text"]')?.textContent ?? '' })),
  );

/** The version arrows' label (`2/2`), or null without arrows. */
const versionLabel = (page) => page.$eval('[data-testid="version-label"]', (n) => n.textContent).catch(() => null);

async function waitFor(page, description, check) {
  const deadline = Date.now() + TIMEOUT_MS;
  let last;
  while (Date.now() < deadline) {
    last = await check();
    if (last?.done) return last.value;
    await page.waitForTimeout(100);
  }
  fail(`${description}: not seen within ${TIMEOUT_MS / 1000} s; last ${JSON.stringify(last?.seen)}`);
}

/** Waits until the page shows `texts` (each a substring of one message, in order, the whole list) and the label. */
const showing = (page, description, texts, label) =>
  waitFor(page, description, async () => {
    const seen = await shown(page);
    const idle = (await page.getAttribute('[data-testid="turn-status"]', 'data-status')) === 'idle';
    const labelled = await versionLabel(page);
    const done = idle && labelled === label && seen.length === texts.length && seen.every((m, i) => m.text.includes(texts[i]));
    return { done, value: seen, seen: { seen, labelled, idle } };
  });

async function open(page) {
  await page.goto(pageUrl);
  await page.waitForSelector('[data-testid="connection-state"][data-state="open"]', { timeout: TIMEOUT_MS });
  await page.click(`[data-testid="conversation-item"][data-id="${conversation}"] .conversation-choose`);
  await page.waitForSelector(`[data-testid="message-list"][data-conversation-id="${conversation}"][data-history="loaded"]`);
  step('the conversation is open');
}

async function ask(page) {
  await page.fill('[data-testid="message-input"]', 'What is a wombat?');
  await page.click('[data-testid="send-button"]');
  await showing(page, 'the first answer', ['What is a wombat?', 'FIRST-ANSWER'], null);
  if ((await page.$('[data-testid="edit-button"]')) === null || (await page.$('[data-testid="regenerate-button"]')) === null) {
    fail('no Edit or Regenerate on the last exchange');
  }
  step('answered; Edit and Regenerate are offered');
}

async function regenerate(page) {
  await page.click('[data-testid="regenerate-button"]');
  await showing(page, 'the second answer as version 2/2', ['What is a wombat?', 'SECOND-ANSWER'], '2/2');
  await screenshot(page, 'versions-regenerated.png');
  await page.click('[data-testid="version-previous"]');
  await showing(page, 'the first answer as version 1/2', ['What is a wombat?', 'FIRST-ANSWER'], '1/2');
  if ((await page.$('[data-testid="edit-button"]')) !== null || (await page.$('[data-testid="regenerate-button"]')) !== null) {
    fail('an earlier version offers Edit or Regenerate');
  }
  await screenshot(page, 'versions-first.png');
  await page.click('[data-testid="version-next"]');
  await showing(page, 'back at version 2/2', ['What is a wombat?', 'SECOND-ANSWER'], '2/2');
  step('regenerated: 2/2 is the new answer, 1/2 the first, view-only');
}

async function edit(page) {
  await page.click('[data-testid="edit-button"]');
  await page.fill('[data-testid="edit-input"]', 'What is a quokka?');
  await screenshot(page, 'versions-editing.png');
  await page.click('[data-testid="edit-save"]');
  await showing(page, 'the edited question answered as 3/3', ['What is a quokka?', 'QUOKKA-ANSWER'], '3/3');
  await screenshot(page, 'versions-edited.png');
  await page.reload();
  await page.waitForSelector(`[data-testid="message-list"][data-conversation-id="${conversation}"][data-history="loaded"]`, {
    timeout: TIMEOUT_MS,
  });
  await showing(page, 'the versions after a reload', ['What is a quokka?', 'QUOKKA-ANSWER'], '3/3');
  await page.click('[data-testid="version-previous"]');
  await showing(page, 'version 2/3 after a reload', ['What is a wombat?', 'SECOND-ANSWER'], '2/3');
  await page.click('[data-testid="version-previous"]');
  await showing(page, 'version 1/3 after a reload', ['What is a wombat?', 'FIRST-ANSWER'], '1/3');
  await page.click('[data-testid="version-next"]');
  await page.click('[data-testid="version-next"]');
  await showing(page, 'back at the edit', ['What is a quokka?', 'QUOKKA-ANSWER'], '3/3');
  step('edited: the new question and its answer are 3/3; 1/3 and 2/3 browsable after a reload');
}

async function failedRerun(page) {
  await page.click('[data-testid="regenerate-button"]');
  await waitFor(page, 'the error of the failed rerun', async () => {
    const seen = await shown(page);
    const idle = (await page.getAttribute('[data-testid="turn-status"]', 'data-status')) === 'idle';
    return { done: idle && seen.some((m) => m.role === 'error'), value: seen, seen };
  });
  await screenshot(page, 'versions-failed.png');
  await page.reload();
  await page.waitForSelector(`[data-testid="message-list"][data-conversation-id="${conversation}"][data-history="loaded"]`, {
    timeout: TIMEOUT_MS,
  });
  await showing(page, 'the unanswered rerun as 4/4', ['What is a quokka?'], '4/4');
  if ((await page.$('[data-testid="regenerate-button"]')) === null) fail('the failed rerun cannot be regenerated again');
  if ((await page.$('[data-testid="edit-button"]')) !== null) fail('an unanswered question offers Edit');
  await page.click('[data-testid="version-previous"]');
  await showing(page, 'the answer before the failed rerun, intact', ['What is a quokka?', 'QUOKKA-ANSWER'], '3/4');
  step('a failed rerun shows its error; the earlier answer stays, one version back');
}

const SCENARIOS = [open, ask, regenerate, edit, failedRerun];

await report(
  'versions e2e',
  WHOLE_TEST_TIMEOUT_MS,
  () => {
    if (!pageUrl || !conversation) fail('set SERVERLESS_OPENCLAW_E2E_URL and SERVERLESS_OPENCLAW_E2E_CONVERSATION');
    return runScenarios({
      scenarios: SCENARIOS,
      viewport: { width: 960, height: 720 },
      screenshots,
      failureShot: 'versions-failure.png',
      redact,
    });
  },
  redact,
);
