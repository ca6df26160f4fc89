// The Skills page in a real browser against a running server. crates/cli/tests/browser_skills.rs starts local
// mode, writes the zips this script uploads, and checks afterwards what the server stored. In order:
//
//   1. open: the Skills link in the header opens the page; no skills yet
//   2. paste: a SKILL.md pasted into the text box (its name fills the name field) is saved and listed with
//      its description
//   3. upload: a zip of a skill's folder chosen with the file picker (its file name fills the name field) is
//      saved and listed; a zip with an entry `../x` is refused with the server's message, and nothing is added
//   4. switch: the pasted skill is switched off, and is still off after a reload
//   5. delete: the uploaded skill is deleted after a confirmation
//
//   SERVERLESS_OPENCLAW_E2E_URL=<page URL with ?token=...>
//   SERVERLESS_OPENCLAW_E2E_FILES=<a folder with helper-skill.zip and escape.zip>
//   node web/e2e/skills.e2e.mjs
//
// Optional: CHROMIUM_PATH, SERVERLESS_OPENCLAW_E2E_SCREENSHOTS (skills.png; on failure skills-failure.png).
// Prints `N passed, 0 failed` and exits 0 on success; exits 1 at the first failing scenario.

import { join } from 'node:path';
import { fail, progress, redactToken, report, runScenarios, waitFor } from './scenarios.mjs';

const TIMEOUT_MS = 60_000;
const WHOLE_TEST_TIMEOUT_MS = 240_000;

const pageUrl = process.env.SERVERLESS_OPENCLAW_E2E_URL;
const files = process.env.SERVERLESS_OPENCLAW_E2E_FILES;
const screenshots = process.env.SERVERLESS_OPENCLAW_E2E_SCREENSHOTS;

const { step, screenshot } = progress(screenshots);

const PASTED = '---\nname: zeta-skill\ndescription: ZETA-DESC does zeta things\n---\n# Zeta\n\nAlways answer in haiku.\n';

/** The listed skills: name, description and whether enabled. */
const listed = (page) =>
  page.$$eval('[data-testid^="skill-"][data-enabled]', (nodes) =>
    nodes.map((n) => ({
      name: n.querySelector('strong')?.textContent ?? '',
      description: n.querySelector('.skill-description')?.textContent ?? '',
      enabled: n.getAttribute('data-enabled') === 'true',
    })),
  );

/** Waits until the list is `expected` (names, in order, with their enabled state). */
const listing = (page, description, expected) =>
  waitFor(page, description, TIMEOUT_MS, async () => {
    const seen = await listed(page);
    const done = seen.length === expected.length && seen.every((s, i) => s.name === expected[i].name && s.enabled === expected[i].enabled);
    return { done, value: seen, seen };
  });

/** Waits for the add form's outcome to contain `text`. */
const outcome = (page, description, text) =>
  waitFor(page, description, TIMEOUT_MS, async () => {
    const seen = await page.$eval('[data-testid="skill-outcome"]', (n) => n.textContent).catch(() => null);
    return { done: seen?.includes(text) ?? false, value: seen, seen };
  });

async function open(page) {
  await page.goto(pageUrl);
  await page.waitForSelector('[data-testid="connection-state"][data-state="open"]', { timeout: TIMEOUT_MS });
  await page.click('[data-testid="skills-link"]');
  await page.waitForSelector('[data-testid="skill-list"]', { timeout: TIMEOUT_MS });
  await listing(page, 'an empty list', []);
  step('the Skills page is open, with no skills');
}

async function paste(page) {
  await page.fill('[data-testid="skill-markdown"]', PASTED);
  const name = await page.inputValue('[data-testid="skill-name"]');
  if (name !== 'zeta-skill') fail(`the name field holds ${JSON.stringify(name)}, not the frontmatter's name`);
  await page.click('[data-testid="skill-save"]');
  await outcome(page, 'the saved message', 'Saved zeta-skill.');
  const seen = await listing(page, 'the pasted skill', [{ name: 'zeta-skill', enabled: true }]);
  if (!seen[0].description.includes('ZETA-DESC does zeta things')) fail(`no description: ${JSON.stringify(seen)}`);
  step('a pasted SKILL.md is saved and listed with its description');
}

async function upload(page) {
  await page.setInputFiles('[data-testid="skill-file"]', join(files, 'helper-skill.zip'));
  const name = await page.inputValue('[data-testid="skill-name"]');
  if (name !== 'helper-skill') fail(`the name field holds ${JSON.stringify(name)}, not the file's name`);
  await page.click('[data-testid="skill-save"]');
  await outcome(page, 'the uploaded zip saved', 'Saved helper-skill.');
  await listing(page, 'both skills', [
    { name: 'helper-skill', enabled: true },
    { name: 'zeta-skill', enabled: true },
  ]);
  await page.setInputFiles('[data-testid="skill-file"]', join(files, 'escape.zip'));
  await page.click('[data-testid="skill-save"]');
  await outcome(page, "the refusal of a zip with '../x'", 'entry "../x" leaves its folder');
  await page.reload();
  await page.waitForSelector('[data-testid="skill-list"]', { timeout: TIMEOUT_MS });
  await listing(page, 'still the two skills after the refusal', [
    { name: 'helper-skill', enabled: true },
    { name: 'zeta-skill', enabled: true },
  ]);
  step("a zip is uploaded and listed; one with '../x' is refused with the server's message, nothing added");
}

async function toggle(page) {
  await page.click('[data-testid="skill-zeta-skill"] [data-testid="skill-enabled"]');
  await listing(page, 'zeta-skill off', [
    { name: 'helper-skill', enabled: true },
    { name: 'zeta-skill', enabled: false },
  ]);
  await page.reload();
  await page.waitForSelector('[data-testid="skill-list"]', { timeout: TIMEOUT_MS });
  await listing(page, 'zeta-skill still off after a reload', [
    { name: 'helper-skill', enabled: true },
    { name: 'zeta-skill', enabled: false },
  ]);
  await screenshot(page, 'skills.png');
  step('a skill is switched off, and stays off after a reload');
}

async function remove(page) {
  await page.click('[data-testid="skill-helper-skill"] [data-testid="skill-delete"]');
  await page.click('[data-testid="skill-helper-skill"] [data-testid="skill-delete-confirm"]');
  await listing(page, 'only zeta-skill left', [{ name: 'zeta-skill', enabled: false }]);
  step('a skill is deleted after a confirmation');
}

const SCENARIOS = [open, paste, upload, toggle, remove];

await report(
  'skills e2e',
  WHOLE_TEST_TIMEOUT_MS,
  () => {
    if (!pageUrl || !files) fail('set SERVERLESS_OPENCLAW_E2E_URL and SERVERLESS_OPENCLAW_E2E_FILES');
    return runScenarios({
      scenarios: SCENARIOS,
      viewport: { width: 960, height: 720 },
      screenshots,
      failureShot: 'skills-failure.png',
      redact: redactToken,
    });
  },
  redactToken,
);
