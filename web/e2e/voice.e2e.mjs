// The microphone in a real browser against a running server. crates/cli/tests/browser_voice.rs starts local
// mode with the real runner, a fake LLM and a fake speech-to-text endpoint, makes the conversation this script
// opens, and checks afterwards what reached both fakes. Chromium runs with its fake microphone (a tone) and
// grants the page the microphone without asking. In order:
//
//   0. settings: Settings → Voice notes: an OpenAI-compatible endpoint (the fake's URL) and its key, saved
//   1. record: the mic button starts a recording (its running time shows), a second press stops it; the
//      recording is uploaded like a picked file and sent
//   2. heard: the message shows an audio player (fetched with the token) with the transcript under it, and the
//      agent's reply comes; after a reload the history shows the player and the transcript again
//
//   SERVERLESS_OPENCLAW_E2E_URL=<page URL with ?token=...>
//   SERVERLESS_OPENCLAW_E2E_CONVERSATION=<the conversation to open>
//   SERVERLESS_OPENCLAW_E2E_TRANSCRIPT=<what the fake speech endpoint answers>
//   SERVERLESS_OPENCLAW_E2E_SPEECH_URL=<the fake speech endpoint's base URL>
//   SERVERLESS_OPENCLAW_E2E_SPEECH_KEY=<the key to store for it>
//   node web/e2e/voice.e2e.mjs
//
// Optional: CHROMIUM_PATH, SERVERLESS_OPENCLAW_E2E_SCREENSHOTS (voice-settings.png, voice-recording.png, voice-heard.png; on
// failure voice-failure.png). Prints `N passed, 0 failed` and exits 0 on success; exits 1 at the first failing
// scenario.

import { fail, progress, redactToken, report, runScenarios, waitFor } from './scenarios.mjs';

const TIMEOUT_MS = 90_000;
const WHOLE_TEST_TIMEOUT_MS = 240_000;

const pageUrl = process.env.SERVERLESS_OPENCLAW_E2E_URL;
const conversation = process.env.SERVERLESS_OPENCLAW_E2E_CONVERSATION;
const transcript = process.env.SERVERLESS_OPENCLAW_E2E_TRANSCRIPT;
const speechUrl = process.env.SERVERLESS_OPENCLAW_E2E_SPEECH_URL;
const speechKey = process.env.SERVERLESS_OPENCLAW_E2E_SPEECH_KEY;
const screenshots = process.env.SERVERLESS_OPENCLAW_E2E_SCREENSHOTS;

const { step, screenshot } = progress(screenshots);
const redact = (text) => redactToken(text).replaceAll(speechKey ?? '\u0000', 'sk-…');

async function settings(page) {
  await page.goto(pageUrl);
  await page.waitForSelector('[data-testid="connection-state"][data-state="open"]', { timeout: TIMEOUT_MS });
  await page.click('[data-testid="settings-link"]');
  await page.waitForSelector('[data-testid="settings-page"] [data-testid="save-settings"]', { timeout: TIMEOUT_MS });
  if ((await page.inputValue('[data-testid="speech-provider-select"]')) !== 'auto') fail('a fresh user should choose by their keys');
  await page.selectOption('[data-testid="speech-provider-select"]', 'openai-compatible');
  await page.click('[data-testid="save-settings"]');
  await page.waitForSelector('[data-testid="speech-base-url-input"][aria-invalid="true"]', { timeout: 5_000 });
  step('a compatible endpoint without its base URL is refused before it reaches the server');
  await page.fill('[data-testid="speech-base-url-input"]', speechUrl);
  await page.locator('[data-testid="api-key-openai-compatible"] [data-testid="key-input"]').fill(speechKey);
  await page.click('[data-testid="save-settings"]');
  await page.waitForSelector('[data-testid="settings-status"]:has-text("Saved.")', { timeout: TIMEOUT_MS });
  if ((await page.inputValue('[data-testid="speech-base-url-input"]')) !== speechUrl) fail('the saved base URL is not shown');
  step('saved an OpenAI-compatible speech endpoint and its key');
  await page.setViewportSize({ width: 960, height: 1300 });
  await screenshot(page, 'voice-settings.png');
  await page.setViewportSize({ width: 960, height: 720 });
}

async function open(page) {
  await page.goto(pageUrl);
  await page.waitForSelector('[data-testid="connection-state"][data-state="open"]', { timeout: TIMEOUT_MS });
  await page.click(`[data-testid="conversation-item"][data-id="${conversation}"] .conversation-choose`);
  await page.waitForSelector(`[data-testid="message-list"][data-conversation-id="${conversation}"][data-history="loaded"]`);
  step('the conversation is open');
}

async function record(page) {
  const mic = '[data-testid="mic-button"]';
  await page.waitForSelector(`${mic}:not([disabled])`);
  await page.click(mic);
  await page.waitForSelector(`${mic}[data-state="recording"]`, { timeout: TIMEOUT_MS });
  const pressed = await page.getAttribute(mic, 'aria-pressed');
  if (pressed !== 'true') fail(`the mic button is not pressed while recording (${pressed})`);
  await waitFor(page, 'the running time', TIMEOUT_MS, async () => {
    const time = await page.textContent('[data-testid="recording-time"]');
    return { done: time === '0:01' || time === '0:02', value: time, seen: time };
  });
  step('recording, with its running time');
  await screenshot(page, 'voice-recording.png');
  await page.click(mic);
  await page.waitForSelector(`${mic}[data-state="idle"]`, { timeout: TIMEOUT_MS });
  step('stopped');
}

/** The user messages' audio: its download link, whether the player read its metadata from it (the page's policy
 * lets it), and the transcript under it. */
const voiced = (page) =>
  page.$$eval('[data-testid="message"][data-role="user"] [data-testid="attachment-audio"]', (nodes) =>
    nodes.map((n) => ({
      src: n.querySelector('audio')?.getAttribute('src') ?? null,
      loaded: (n.querySelector('audio')?.readyState ?? 0) >= 1,
      transcript: n.querySelector('[data-testid="attachment-transcript"]')?.textContent ?? null,
    })),
  );

async function heard(page) {
  const shown = await waitFor(page, 'the voice note with its transcript', TIMEOUT_MS, async () => {
    const seen = await voiced(page);
    return {
      done: seen.length === 1 && seen[0].transcript === transcript && seen[0].src?.includes('/downloads/') && seen[0].loaded,
      value: seen,
      seen,
    };
  });
  step(`the audio plays from its download link with "${shown[0].transcript}" under it`);
  await waitFor(page, 'the reply', TIMEOUT_MS, async () => {
    const replies = await page.$$eval('[data-testid="message"][data-role="assistant"][data-state="final"]', (n) =>
      n.map((m) => m.textContent ?? ''),
    );
    return { done: replies.length === 1 && replies[0].includes(transcript.slice(0, 20)), value: replies, seen: replies };
  });
  step('the agent answered the words');
  if ((await page.$$('[data-testid="pending-attachment"]')).length !== 0) fail('the composer still holds the recording');
  await screenshot(page, 'voice-heard.png');
  await page.reload();
  await page.waitForSelector(`[data-testid="message-list"][data-conversation-id="${conversation}"][data-history="loaded"]`, {
    timeout: TIMEOUT_MS,
  });
  await waitFor(page, 'the voice note after a reload', TIMEOUT_MS, async () => {
    const seen = await voiced(page);
    return {
      done: seen.length === 1 && seen[0].transcript === transcript && seen[0].src?.includes('/downloads/') && seen[0].loaded,
      value: seen,
      seen,
    };
  });
  step('and again after a reload');
}

await report(
  'voice e2e',
  WHOLE_TEST_TIMEOUT_MS,
  () => {
    if (!pageUrl || !conversation || !transcript || !speechUrl || !speechKey)
      fail('set SERVERLESS_OPENCLAW_E2E_URL, _CONVERSATION, _TRANSCRIPT, _SPEECH_URL and _SPEECH_KEY (each SERVERLESS_OPENCLAW_E2E_…)');
    return runScenarios({
      scenarios: [settings, open, record, heard],
      viewport: { width: 960, height: 720 },
      screenshots,
      failureShot: 'voice-failure.png',
      redact,
      // The fake microphone (a tone), allowed without a prompt.
      chromiumArgs: ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'],
      prepare: (context) => context.grantPermissions(['microphone']),
    });
  },
  redact,
);
