// End-to-end test of the web app in a real browser against a running server. crates/cli/tests/browser.rs
// starts local mode with the real runner and a fake LLM, queues the fake's answers this script expects, and
// checks afterwards what reached the fake. The scenarios run in order in one browser session:
//
//   1. chat: a streamed markdown reply (a rust code block, HTML shown as text), Copy, tokens under the reply
//   2. reload: the same conversation comes back from the history
//   3. conversations: a second one, then back to the first with its history
//   3b. activity: in the second conversation, a turn with two tool calls shows live tool rows that fold into
//       "Worked for N s" when the reply arrives, and again after a reload
//   4. stop: a slow reply stopped with Stop, then Retry
//   4b. model picker: the chat header's picker sets the second conversation's model, `/think high` sets its
//       thinking level, a turn runs with both; the first conversation keeps the default
//   5. settings: an OpenAI-compatible provider (the fake's URL), model and API key, the browser switch; a turn with them
//   6. rename and delete a conversation
//   6b. commands: /help answered with a notice, /new opens a new conversation
//   6c. search: from a new conversation, a word of the first one's first message finds it (marked in the
//       snippet); choosing the hit opens it; no hits and a refused query say so; Escape clears the search
//   7. phone-sized screen (375×667): no horizontal scroll, the sidebar behind the menu button
//
//   SERVERLESS_OPENCLAW_E2E_URL=<page URL with ?token=...>
//   SERVERLESS_OPENCLAW_E2E_LLM_BASE_URL=<the fake LLM's OpenAI-compatible base URL>
//   SERVERLESS_OPENCLAW_E2E_MODEL, SERVERLESS_OPENCLAW_E2E_API_KEY   (what the settings scenario enters)
//   node web/e2e/chat.e2e.mjs
//
// Optional: CHROMIUM_PATH (default /usr/bin/chromium), SERVERLESS_OPENCLAW_E2E_SCREENSHOTS (a directory for
// chat-code.png, sidebar.png, activity-live.png, activity-worked.png, picker.png, settings.png, search.png,
// phone-chat.png; on failure failure.png).
// Prints `N passed, 0 failed` and exits 0 on success; exits 1 at the first failing scenario.

import { E2eFailure, fail, progress, redactToken, report, runScenarios } from './scenarios.mjs';

const REPLY_TIMEOUT_MS = 60_000;
const CONNECT_TIMEOUT_MS = 20_000;
const WHOLE_TEST_TIMEOUT_MS = 300_000;

const pageUrl = process.env.SERVERLESS_OPENCLAW_E2E_URL;
const llmBaseUrl = process.env.SERVERLESS_OPENCLAW_E2E_LLM_BASE_URL;
const model = process.env.SERVERLESS_OPENCLAW_E2E_MODEL || 'e2e-model-b';
const apiKey = process.env.SERVERLESS_OPENCLAW_E2E_API_KEY || 'sk-e2e-browser-key';
const screenshots = process.env.SERVERLESS_OPENCLAW_E2E_SCREENSHOTS;

const { step, screenshot } = progress(screenshots);
/** The page URL and the socket URL carry the access token: keep it out of test logs. */
const redact = (text) => redactToken(text).replaceAll(apiKey, '<api key>');

/** Snapshot of the chat as the page shows it: one entry per bubble (the text without code blocks' Copy bars). */
async function bubbles(page) {
  return page.$$eval('[data-testid="message"]', (nodes) =>
    nodes.map((node) => {
      const text = node.querySelector('[data-testid="message-text"]')?.cloneNode(true);
      for (const bar of text?.querySelectorAll('.code-block-bar') ?? []) bar.remove();
      return {
        role: node.getAttribute('data-role'),
        state: node.getAttribute('data-state'),
        text: text?.textContent ?? '',
        meta: node.querySelector('[data-testid="message-meta"]')?.textContent ?? null,
        code: node.querySelector('[data-testid="error-code"]')?.textContent ?? null,
      };
    }),
  );
}

/**
 * Polls `check(bubbles)` until it returns a truthy value. An error bubble beyond the `errorsAllowed` first
 * ones ends the wait at once with its text, which says more than a timeout would.
 */
async function waitForChat(page, description, timeoutMs, check, errorsAllowed = 0) {
  const deadline = Date.now() + timeoutMs;
  let last = [];
  while (Date.now() < deadline) {
    last = await bubbles(page);
    const errors = last.filter((b) => b.role === 'error');
    if (errors.length > errorsAllowed) {
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
    await page.waitForSelector(`[data-testid="connection-state"][data-state="open"], ${notice}`, { timeout: CONNECT_TIMEOUT_MS });
    const shown = await page.$(notice);
    if (shown !== null) fail(`the page shows: ${(await shown.innerText()).replace(/\s+/g, ' ')}`);
    await page.waitForSelector('[data-testid="message-list"][data-history="loaded"]', { timeout: CONNECT_TIMEOUT_MS });
  } catch (error) {
    if (error instanceof E2eFailure) throw error;
    const connection = await page.$eval('[data-testid="connection-state"]', (n) => n.getAttribute('data-state')).catch(() => 'absent');
    const history = await page
      .$eval('[data-testid="message-list"]', (n) => `${n.getAttribute('data-history')}: ${n.textContent}`)
      .catch(() => 'absent');
    fail(
      `the page did not connect and load its history within ${CONNECT_TIMEOUT_MS / 1000} s: connection ${connection}, history ${history}`,
    );
  }
}

const currentConversation = (page) => page.$eval('[data-testid="message-list"]', (n) => n.getAttribute('data-conversation-id'));

/** Types a message (Shift+Enter between lines), sends it with Enter and waits for its bubble to be acked. */
async function sendMessage(page, lines, errorsAllowed = 0) {
  const input = page.locator('[data-testid="message-input"]');
  await input.click();
  for (const [i, line] of lines.entries()) {
    if (i > 0) await input.press('Shift+Enter');
    await input.pressSequentially(line);
  }
  await input.press('Enter');
  const text = lines.join('\n');
  await waitForChat(
    page,
    `the user bubble "${lines[0]}"`,
    10_000,
    (all) => all.some((b) => b.role === 'user' && b.text === text && b.state === 'sent'),
    errorsAllowed,
  );
  const left = await input.inputValue();
  if (left !== '') fail(`the input still holds ${JSON.stringify(left)} after sending`);
  return text;
}

/** Waits for the last bubble to be a final assistant reply with its token footer; returns it. */
async function waitForReply(page, description, errorsAllowed = 0) {
  const reply = await waitForChat(
    page,
    description,
    REPLY_TIMEOUT_MS,
    (all) => {
      const last = all[all.length - 1];
      return last?.role === 'assistant' && last.state === 'final' && /\d+ in · \d+ out/.test(last.meta ?? '') ? last : null;
    },
    errorsAllowed,
  );
  await page.waitForSelector('[data-testid="turn-status"][data-status="idle"]', { state: 'attached', timeout: REPLY_TIMEOUT_MS });
  return reply;
}

async function sidebarConversations(page) {
  return page.$$eval('[data-testid="conversation-item"]', (nodes) =>
    nodes.map((n) => ({
      id: n.getAttribute('data-id'),
      current: n.getAttribute('data-current') === 'true',
      isNew: n.getAttribute('data-new') === 'true',
      title: n.querySelector('.conversation-title')?.textContent ?? '',
    })),
  );
}

async function waitForSidebar(page, description, check) {
  const deadline = Date.now() + 10_000;
  let last = [];
  while (Date.now() < deadline) {
    last = await sidebarConversations(page);
    if (check(last)) return last;
    await page.waitForTimeout(100);
  }
  fail(`${description}: the sidebar shows ${JSON.stringify(last)}`);
}

const state = {};

async function chat(page) {
  await page.goto(pageUrl);
  await waitForConnected(page);
  step(`page loaded and connected to ${new URL(pageUrl).origin}`);
  if (new URL(page.url()).searchParams.has('token')) fail('the token is still in the address bar');
  if ((await bubbles(page)).length !== 0) fail('a fresh server should start with an empty conversation');
  await page.waitForSelector('[data-testid="conversation-item"][data-new="true"][data-current="true"]');

  state.firstText = await sendMessage(page, ['Show me a program,', 'in Rust please.']);
  step('message with a Shift+Enter newline sent with Enter');
  const reply = await waitForReply(page, 'the markdown reply');
  step(`reply final with footer "${reply.meta}"`);

  const code = await page.$eval('[data-testid="message"][data-role="assistant"] pre code.language-rust', (n) => n.textContent);
  if (!code.includes('println!("hello from the fake LLM");')) fail(`the rust block holds ${JSON.stringify(code)}`);
  if (!reply.text.includes('<script>window.__pwned = 1</script>'))
    fail(`the script line is not shown as text: ${JSON.stringify(reply.text)}`);
  const pwned = await page.evaluate(() => typeof window.__pwned);
  if (pwned !== 'undefined') fail('the script in the reply ran');
  const scripts = await page.$$eval('[data-testid="message-list"] script, [data-testid="message-list"] img', (n) => n.length);
  if (scripts !== 0) fail('the reply produced script or img elements');
  step('the code block is a <pre>, the <script> line is text and did not run');

  await page.click('[data-testid="copy-code"]');
  await page.waitForSelector('[data-testid="copy-code"][data-state="copied"]', { timeout: 5_000 });
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  if (copied !== code) fail(`the clipboard holds ${JSON.stringify(copied)}`);
  step('Copy put the code on the clipboard and says "Copied"');

  state.firstId = await currentConversation(page);
  state.firstBubbles = (await bubbles(page)).map(({ role, text }) => ({ role, text }));
  await waitForSidebar(page, 'the first conversation, titled from its message', (list) =>
    list.some((c) => c.id === state.firstId && c.title === 'Show me a program,' && !c.isNew),
  );
  await screenshot(page, 'chat-code.png');
}

async function reload(page) {
  await page.reload();
  await waitForConnected(page);
  if ((await currentConversation(page)) !== state.firstId) fail('the reload did not come back to the same conversation');
  const restored = await waitForChat(page, 'the history after a reload', 10_000, (all) =>
    all.length >= state.firstBubbles.length ? all : null,
  );
  const shown = restored.map(({ role, text }) => ({ role, text }));
  if (JSON.stringify(shown) !== JSON.stringify(state.firstBubbles)) {
    fail(
      `the history after a reload differs from what was shown live:\n  live:    ${JSON.stringify(state.firstBubbles)}\n  history: ${JSON.stringify(shown)}`,
    );
  }
  if (!/\d+ in · \d+ out/.test(restored[1].meta ?? '')) fail(`the stored reply shows no tokens: ${JSON.stringify(restored[1])}`);
  await page.waitForSelector('[data-testid="message"] pre code.language-rust');
  step('reload shows the same conversation, its code block and tokens, from the history');
}

async function conversations(page) {
  await page.click('[data-testid="new-conversation"]');
  await page.waitForSelector('[data-testid="empty-conversation"]');
  await sendMessage(page, ['A second conversation.']);
  await waitForReply(page, 'the reply in the second conversation');
  state.secondId = await currentConversation(page);
  if (state.secondId === state.firstId) fail('the new conversation has the id of the first');
  const list = await waitForSidebar(page, 'two conversations', (l) => l.length === 2 && l.every((c) => !c.isNew));
  if (list[0].id !== state.secondId || !list[0].current) fail(`the newest conversation is not first and current: ${JSON.stringify(list)}`);
  step('a second conversation got its own reply and heads the sidebar');
  await screenshot(page, 'sidebar.png');

  await page.click(`[data-testid="conversation-item"][data-id="${state.firstId}"] .conversation-choose`);
  await page.waitForSelector(`[data-testid="message-list"][data-conversation-id="${state.firstId}"][data-history="loaded"]`);
  const back = await waitForChat(page, 'the first conversation again', 10_000, (all) =>
    all.length === state.firstBubbles.length ? all : null,
  );
  if (back[0].text !== state.firstText) fail(`the first conversation shows ${JSON.stringify(back)}`);
  step('switching back shows the first conversation’s history');
}

/** The activity panel of the last reply as the page shows it, or null when it has none. */
async function lastActivity(page) {
  return page.evaluate(() => {
    const panels = document.querySelectorAll('[data-testid="message"][data-role="assistant"] [data-testid="activity"]');
    const panel = panels[panels.length - 1];
    if (panel === undefined) return null;
    return {
      live: panel.getAttribute('data-live'),
      open: panel.hasAttribute('open'),
      summary: panel.querySelector('[data-testid="activity-summary"]')?.textContent ?? '',
      rows: Array.from(panel.querySelectorAll('[data-testid="tool-row"]'), (row) => ({
        status: row.getAttribute('data-status'),
        text: row.textContent ?? '',
      })),
    };
  });
}

async function waitForActivity(page, description, check) {
  const deadline = Date.now() + REPLY_TIMEOUT_MS;
  let last = null;
  while (Date.now() < deadline) {
    last = await lastActivity(page);
    if (last !== null && check(last)) return last;
    await page.waitForTimeout(50);
  }
  fail(`${description}: the activity panel shows ${JSON.stringify(last)}`);
}

const WORKED = /^Worked for [0-9.]+ (ms|s) · 2 tools$/;

async function activity(page) {
  await page.click(`[data-testid="conversation-item"][data-id="${state.secondId}"] .conversation-choose`);
  await page.waitForSelector(`[data-testid="message-list"][data-conversation-id="${state.secondId}"][data-history="loaded"]`);
  await sendMessage(page, ['Run two commands, please.']);
  // While the turn works: an open panel with a row whose spinner turns.
  const live = await waitForActivity(page, 'a running tool row', (a) => a.live === 'true' && a.rows.some((r) => r.status === 'running'));
  if (!live.open) fail('the live activity panel is closed');
  if (!live.rows[0].text.includes('exec') || !live.rows[0].text.includes('sleep 1.5; echo first-tool-done')) {
    fail(`the first row does not name the tool and its command: ${JSON.stringify(live.rows)}`);
  }
  await page.waitForSelector('[data-testid="tool-row"][data-status="running"] .spinner');
  step(`live tool rows during the turn: ${live.summary}`);
  await screenshot(page, 'activity-live.png');
  const second = await waitForActivity(
    page,
    'the second call running after the first ended',
    (a) => a.rows.length === 2 && a.rows[0].status === 'ok',
  );
  step(`the first call ended, the second started: ${JSON.stringify(second.rows.map((r) => r.status))}`);

  await waitForReply(page, 'the reply after the tools');
  const folded = await waitForActivity(page, 'the folded activity', (a) => a.live === 'false');
  if (!WORKED.test(folded.summary)) fail(`the folded panel says ${JSON.stringify(folded.summary)}`);
  if (folded.open) fail('the folded activity panel is open by default');
  if (folded.rows.length !== 2 || !folded.rows.every((r) => r.status === 'ok')) fail(`the folded rows: ${JSON.stringify(folded.rows)}`);
  step(`the rows folded into "${folded.summary}", collapsed`);
  await page.click('[data-testid="activity-summary"]');
  if (!(await lastActivity(page)).open) fail('clicking "Worked for" does not open the rows');
  await screenshot(page, 'activity-worked.png');

  await page.reload();
  await waitForConnected(page);
  const restored = await waitForActivity(page, '"Worked for" after a reload', (a) => a.live === 'false');
  if (restored.summary !== folded.summary || restored.open || restored.rows.length !== 2) {
    fail(`after a reload the panel shows ${JSON.stringify(restored)}; before: ${JSON.stringify(folded)}`);
  }
  step('after a reload the reply still shows the same "Worked for", collapsed');

  await page.click(`[data-testid="conversation-item"][data-id="${state.firstId}"] .conversation-choose`);
  await page.waitForSelector(`[data-testid="message-list"][data-conversation-id="${state.firstId}"][data-history="loaded"]`);
}

async function stop(page) {
  const input = page.locator('[data-testid="message-input"]');
  await input.fill('Count slowly, please.');
  await input.press('Enter');
  await page.waitForSelector('[data-testid="stop-button"]', { timeout: 10_000 });
  const status = await page.$eval('[data-testid="turn-status"]', (n) => n.textContent);
  if (!/Thinking…|Waking up the agent…/.test(status ?? '')) fail(`the status line says ${JSON.stringify(status)} during a turn`);
  // Stopped while it streams: the first words are on the page.
  await page.waitForSelector('[data-testid="message"][data-role="assistant"][data-state="streaming"]', { timeout: REPLY_TIMEOUT_MS });
  await page.click('[data-testid="stop-button"]');
  const errors = await waitForChat(
    page,
    'the cancelled notice',
    15_000,
    (all) => {
      const last = all[all.length - 1];
      return last?.role === 'error' ? all.filter((b) => b.role === 'error') : null;
    },
    1,
  );
  if (errors[0].code !== 'cancelled') fail(`the turn ended with ${JSON.stringify(errors[0])}`);
  await page.waitForSelector('[data-testid="turn-status"][data-status="idle"]', { state: 'attached', timeout: 10_000 });
  if ((await page.$('[data-testid="stop-button"]')) !== null) fail('Stop is still shown after the turn ended');
  if (await input.isDisabled()) fail('the input is disabled after the cancel');
  const statusText = (await page.$eval('[data-testid="turn-status"]', (n) => n.textContent)) ?? '';
  if (statusText.trim() !== '') fail(`the idle status line says ${JSON.stringify(statusText)}`);
  step(`Stop ended the streaming turn with "${errors[0].text}", the input works again`);

  await page.click('[data-testid="retry-button"]');
  await waitForReply(page, 'the reply to the retried message', 1);
  const users = (await bubbles(page)).filter((b) => b.role === 'user' && b.text === 'Count slowly, please.');
  if (users.length !== 2) fail(`Retry should send the text again as a new message; the page shows ${users.length}`);
  step('Retry sent the same text again and got a reply');
}

/** The chat header's picker: its model field, its thinking select and the line saying what runs. */
async function picker(page) {
  const field = page.locator('[data-testid="conversation-model"]');
  const thinking = page.locator('[data-testid="conversation-thinking"]');
  const effective = page.locator('[data-testid="effective-model"]');
  const waitForPicker = async (description, check) => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const now = {
        model: await field.inputValue(),
        thinking: await thinking.inputValue(),
        effective: (await effective.textContent()) ?? '',
      };
      if (check(now)) return now;
      if (Date.now() > deadline) fail(`the picker never showed ${description}: ${JSON.stringify(now)}`);
      await page.waitForTimeout(100);
    }
  };
  return { field, thinking, waitForPicker };
}

async function modelPicker(page) {
  const { field, thinking, waitForPicker } = await picker(page);
  // The first conversation (current) runs the default.
  await waitForPicker(
    'the default in the first conversation',
    (p) => p.model === '' && p.thinking === '' && p.effective.includes('fake-model') && p.effective.includes('(default)'),
  );
  await page.click(`[data-testid="conversation-item"][data-id="${state.secondId}"] .conversation-choose`);
  await page.waitForSelector(`[data-testid="message-list"][data-conversation-id="${state.secondId}"][data-history="loaded"]`);
  await waitForPicker('the default in the second conversation', (p) => p.model === '' && p.effective.includes('fake-model'));
  // Keyboard only: the label names the field, Enter applies it.
  await page.getByLabel('Model', { exact: true }).focus();
  await field.pressSequentially('fake-picked');
  await field.press('Enter');
  await waitForPicker(
    'the picked model',
    (p) => p.model === 'fake-picked' && p.effective.includes('fake-picked') && !p.effective.includes('(default)'),
  );
  step('the header picker set this conversation’s model');
  // `/think high` is a command: a notice answers it, and the picker shows the level.
  const count = (await bubbles(page)).length;
  await sendMessage(page, ['/think high']);
  await waitForChat(page, 'the /think notice', 10_000, (all) =>
    all.length === count + 2 && all[count + 1].role === 'notice' ? all : null,
  );
  await waitForPicker('thinking high after /think high', (p) => p.thinking === 'high');
  await screenshot(page, 'picker.png');
  await sendMessage(page, ['Which model thinks here?']);
  await waitForReply(page, 'the reply with the picked model');
  step('/think high answered with a notice and shown in the picker; a turn ran (the harness checks the model and thinking)');

  await page.click(`[data-testid="conversation-item"][data-id="${state.firstId}"] .conversation-choose`);
  await page.waitForSelector(`[data-testid="message-list"][data-conversation-id="${state.firstId}"][data-history="loaded"]`);
  await waitForPicker(
    'the default again in the first conversation',
    (p) => p.model === '' && p.thinking === '' && p.effective.includes('fake-model'),
  );
  await sendMessage(page, ['And which model answers here?']);
  await waitForReply(page, 'the reply with the default model');
  // The thinking select changes the level at once; back to the default afterwards.
  await thinking.selectOption('low');
  await waitForPicker('thinking low', (p) => p.thinking === 'low');
  await thinking.selectOption('');
  await waitForPicker('thinking back to the default', (p) => p.thinking === '');
  // A refused model id says why and changes nothing.
  await field.fill('two words');
  await field.press('Enter');
  await page.waitForSelector('[data-testid="model-picker-error"]:has-text("model must be")', { timeout: 10_000 });
  await field.fill('');
  await field.press('Enter');
  await waitForPicker('the default after the refusal', (p) => p.effective.includes('fake-model'));
  step('the first conversation kept the default; the thinking select and a refused id work');
}

async function settings(page) {
  await page.click('[data-testid="settings-link"]');
  await page.waitForSelector('[data-testid="settings-page"] [data-testid="save-settings"]', { timeout: 10_000 });
  if (new URL(page.url()).hash !== '#settings') fail(`the settings page is not at #settings: ${page.url()}`);
  if (!(await page.isChecked('[data-testid="use-default"]'))) fail('a fresh server should use its default model');

  await page.check('[data-testid="use-own-model"]');
  await page.selectOption('[data-testid="provider-select"]', 'openai-compatible');
  await page.fill('[data-testid="model-input"]', model);
  await page.click('[data-testid="save-settings"]');
  const invalid = await page.waitForSelector('[data-testid="settings-error"]', { timeout: 5_000 });
  if (!(await page.$eval('[data-testid="base-url-input"]', (n) => n.getAttribute('aria-invalid') === 'true'))) {
    fail(`saving without a base URL should mark it; the page says ${await invalid.textContent()}`);
  }
  step('saving without a base URL is refused before it reaches the server');

  await page.fill('[data-testid="base-url-input"]', llmBaseUrl);
  const key = page.locator('[data-testid="api-key-openai-compatible"] [data-testid="key-input"]');
  await key.fill(apiKey);
  await page.click('[data-testid="save-settings"]');
  await page.waitForSelector('[data-testid="settings-status"]:has-text("Saved.")', { timeout: 10_000 });
  const keyRow = page.locator('[data-testid="api-key-openai-compatible"]');
  if ((await keyRow.getAttribute('data-stored')) !== 'true') fail('the key is not shown as stored after saving');
  if ((await keyRow.locator('[data-testid="key-input"]').count()) !== 0) fail('the stored key still has an input');
  const html = await page.content();
  if (html.includes(apiKey)) fail('the page shows the API key after saving');
  step('saved an OpenAI-compatible provider; the key shows as "stored ✓" and is not on the page');

  // The browser switch: on by default, saved as soon as it is flipped, and still off after a reload.
  const browserSwitch = '[data-testid="browser-switch"]';
  if (!(await page.isChecked(browserSwitch))) fail('the browser should be on for a fresh user');
  // A click, not uncheck(): the box shows the saved state, which changes when the server answers.
  await page.click(browserSwitch);
  await page.waitForSelector(`${browserSwitch}:not(:checked):not([disabled])`, { timeout: 10_000 });
  await page.reload();
  await page.waitForSelector(`[data-testid="settings-page"] ${browserSwitch}`, { timeout: 10_000 });
  if (await page.isChecked(browserSwitch)) fail('the browser switch was not saved off');
  await page.click(browserSwitch);
  await page.waitForSelector(`${browserSwitch}:checked:not([disabled])`, { timeout: 10_000 });
  step('the browser switch is on by default, saved off at once, and on again');

  await page.click('[data-testid="telegram-link-button"]');
  const link = await page.waitForSelector('[data-testid="telegram-link-code"]', { timeout: 10_000 });
  const command = (await link.textContent()) ?? '';
  if (!/^\/link [0-9]{8}$/.test(command)) fail(`the Telegram link code looks wrong: ${JSON.stringify(command)}`);
  step('"Link Telegram" shows a one-time /link code');
  // Tall enough for the whole page: the settings scroll inside the view, not the document.
  await page.setViewportSize({ width: 960, height: 1300 });
  await screenshot(page, 'settings.png');
  await page.setViewportSize({ width: 960, height: 720 });

  await page.click('[data-testid="chat-link"]');
  await waitForConnected(page);
  await sendMessage(page, ['Which model answers now?'], 1);
  await waitForReply(page, 'the reply with the new settings', 1);
  step('a turn after the settings change got its reply (the harness checks which model answered)');
}

async function renameAndDelete(page) {
  await page.click(`[data-testid="conversation-item"][data-id="${state.secondId}"] .conversation-choose`);
  await page.waitForSelector(`[data-testid="message-list"][data-conversation-id="${state.secondId}"][data-history="loaded"]`);
  await page.click('[data-testid="rename-conversation"]');
  await page.fill('[data-testid="rename-input"]', 'Renamed by the browser test');
  await page.press('[data-testid="rename-input"]', 'Enter');
  await waitForSidebar(page, 'the new title', (l) => l.some((c) => c.id === state.secondId && c.title === 'Renamed by the browser test'));
  await page.reload();
  await waitForConnected(page);
  await waitForSidebar(page, 'the new title after a reload', (l) =>
    l.some((c) => c.id === state.secondId && c.title === 'Renamed by the browser test' && c.current),
  );
  step('renamed the second conversation; the title is stored');

  await page.click('[data-testid="delete-conversation"]');
  await page.waitForSelector('[data-testid="confirm-delete"]');
  await page.click('[data-testid="confirm-delete"]');
  const left = await waitForSidebar(page, 'one conversation after the delete', (l) => l.length === 1);
  if (left[0].id !== state.firstId || !left[0].current) fail(`after the delete the sidebar shows ${JSON.stringify(left)}`);
  await page.waitForSelector(`[data-testid="message-list"][data-conversation-id="${state.firstId}"][data-history="loaded"]`);
  step('deleted it after the confirmation; the first conversation is shown');
}

async function phone(page) {
  await page.setViewportSize({ width: 375, height: 667 });
  await page.waitForTimeout(200);
  const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  if ((await overflow()) > 0) fail(`the chat scrolls sideways by ${await overflow()} px at 375 px`);
  if (await page.isVisible('[data-testid="sidebar"]')) fail('the sidebar is shown beside the chat at 375 px');
  await page.click('[data-testid="menu-button"]');
  await page.waitForSelector('[data-testid="sidebar"]', { state: 'visible' });
  await page.keyboard.press('Escape');
  await page.waitForSelector('[data-testid="sidebar"]', { state: 'hidden' });
  // The widest content: the code block scrolls inside itself, not the page.
  await page.waitForSelector('pre code.language-rust');
  await screenshot(page, 'phone-chat.png');
  await page.click('[data-testid="settings-link"]');
  await page.waitForSelector('[data-testid="save-settings"]');
  if ((await overflow()) > 0) fail(`the settings page scrolls sideways by ${await overflow()} px at 375 px`);
  step('375×667: no horizontal scroll, sidebar behind the menu button');
}

async function commands(page) {
  const before = await currentConversation(page);
  const count = (await bubbles(page)).length;
  // A command is answered by the server with a notice, under it; it is not a turn.
  await sendMessage(page, ['/help']);
  const help = await waitForChat(page, 'the /help notice', 10_000, (all) =>
    all.length === count + 2 && all[count + 1].role === 'notice' ? all[count + 1] : null,
  );
  if (!help.text.includes('/model') || !help.text.includes('/think')) fail(`/help says ${JSON.stringify(help.text)}`);
  await screenshot(page, 'command-help.png');
  // /new opens the conversation the server named (its notice stays with the conversation it was sent in).
  const input = page.locator('[data-testid="message-input"]');
  await input.pressSequentially('/new');
  await input.press('Enter');
  await page.waitForSelector(`[data-testid="message-list"]:not([data-conversation-id="${before}"])`);
  await page.waitForSelector('[data-testid="empty-conversation"]');
  step('/help answered with a notice; /new opened a new conversation');
  await page.click(`[data-testid="conversation-item"][data-id="${before}"] .conversation-choose`);
  await page.waitForSelector(`[data-testid="message-list"][data-conversation-id="${before}"][data-history="loaded"]`);
}

/** The search hits as the sidebar shows them. */
async function searchHits(page) {
  return page.$$eval('[data-testid="search-hit"]', (nodes) =>
    nodes.map((n) => ({
      conversation: n.getAttribute('data-conversation'),
      title: n.querySelector('.conversation-title')?.textContent ?? '',
      snippet: n.querySelector('[data-testid="search-snippet"]')?.textContent ?? '',
      marked: Array.from(n.querySelectorAll('[data-testid="search-snippet"] mark'), (m) => m.textContent),
    })),
  );
}

async function search(page) {
  // Somewhere else: a new, empty conversation.
  await page.click('[data-testid="new-conversation"]');
  await page.waitForSelector('[data-testid="empty-conversation"]');
  const box = page.locator('[data-testid="search-input"]');
  await box.click();
  await box.pressSequentially('PROGRA');
  await page.waitForSelector('[data-testid="search-results"][aria-busy="false"]', { timeout: 10_000 });
  const hits = await searchHits(page);
  // The first message and the reply ("Here is the program:"), newest first, both in the first conversation.
  const asked = hits.find((h) => h.snippet.startsWith('Show me a program,'));
  if (hits.length !== 2 || asked === undefined || hits.some((h) => h.conversation !== state.firstId)) {
    fail(`"PROGRA" found ${JSON.stringify(hits)}`);
  }
  if (hits[0] === asked) fail(`the older message is listed first: ${JSON.stringify(hits)}`);
  if (JSON.stringify(asked.marked) !== '["program"]' || asked.title !== 'Show me a program,')
    fail(`the hit shows ${JSON.stringify(asked)}`);
  if (await page.isVisible('[data-testid="conversation-list"]')) fail('the conversation list is shown beside the hits');
  step(`"PROGRA" found ${hits.length} messages of the first conversation, "program" marked`);
  await screenshot(page, 'search.png');

  await page.click(`[data-testid="search-hit"]:has-text("Show me a program,")`);
  await page.waitForSelector(`[data-testid="message-list"][data-conversation-id="${state.firstId}"][data-history="loaded"]`);
  if ((await box.inputValue()) !== '') fail('the search box still holds the query after opening a hit');
  await page.waitForSelector('[data-testid="conversation-list"]', { state: 'visible' });
  step('choosing the hit opened the first conversation and closed the search');

  await box.fill('zebra');
  await page.waitForSelector('[data-testid="search-status"]:has-text("No messages found.")', { timeout: 10_000 });
  await box.fill('?!');
  await page.waitForSelector('[data-testid="search-error"]:has-text("letter or digit")', { timeout: 10_000 });
  await box.press('Escape');
  await page.waitForSelector('[data-testid="conversation-list"]', { state: 'visible' });
  if ((await box.inputValue()) !== '') fail('Escape left the query in the search box');
  step('no hits and a refused query say so; Escape clears the search');
}

const SCENARIOS = [chat, reload, conversations, activity, stop, modelPicker, settings, renameAndDelete, commands, search, phone];

await report(
  'web e2e',
  WHOLE_TEST_TIMEOUT_MS,
  () => {
    if (!pageUrl) fail('set SERVERLESS_OPENCLAW_E2E_URL to the page URL, including ?token=...');
    if (!llmBaseUrl) fail('set SERVERLESS_OPENCLAW_E2E_LLM_BASE_URL to the fake LLM’s OpenAI-compatible base URL');
    return runScenarios({
      scenarios: SCENARIOS,
      viewport: { width: 960, height: 720 },
      screenshots,
      failureShot: 'failure.png',
      redact,
      prepare: (context) => context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(pageUrl).origin }),
    });
  },
  redact,
);
