// What the browser tests share: their failure type, the run of a test's scenarios in one page of a fresh
// Chromium (a screenshot on failure, the page's own errors and Content-Security-Policy violations failing
// the scenario), and the report the test runners read: `ok - …` then `N passed, 0 failed` (exit 0), or
// `not ok - …` then `0 passed, 1 failed` (exit 1), also when the whole test runs out of time.

import { join } from 'node:path';
import { missingChromium, withChromium } from './chromium.mjs';

/** A failure a scenario reports in its own words (anything else is reported with its stack). */
export class E2eFailure extends Error {}

export const fail = (message) => {
  throw new E2eFailure(message);
};

const describe = (error) => (error instanceof E2eFailure ? error.message : (error?.stack ?? String(error)));

/**
 * Runs `main()` (which resolves to the number of scenarios passed) and prints the report for `label`,
 * giving up after `wholeTimeoutMs`. `redact` cleans what is printed (tokens, keys).
 */
export async function report(label, wholeTimeoutMs, main, redact = (text) => text) {
  const started = Date.now();
  const watchdog = setTimeout(() => {
    console.log(`not ok - ${label}: gave up after ${wholeTimeoutMs / 1000} s`);
    console.log('0 passed, 1 failed');
    process.exit(1);
  }, wholeTimeoutMs);
  try {
    const passed = await main();
    clearTimeout(watchdog);
    console.log(`ok - ${label} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    console.log(`${passed} passed, 0 failed`);
  } catch (error) {
    clearTimeout(watchdog);
    console.log(`not ok - ${label}: ${redact(describe(error))}`);
    console.log('0 passed, 1 failed');
    process.exitCode = 1;
  }
}

/**
 * Runs `scenarios` (async functions of the page) in order in one page of a fresh Chromium of `viewport`,
 * after `prepare(context)`. A failing scenario is saved as `failureShot` in `screenshots` (when set); an
 * error the page throws, or a Content-Security-Policy violation it logs, fails the scenario it happened
 * in. Resolves to the number passed.
 */
export async function runScenarios({
  scenarios,
  viewport,
  screenshots,
  failureShot,
  redact = (text) => text,
  prepare = async () => {},
  chromiumArgs = [],
}) {
  const missing = missingChromium();
  if (missing) fail(missing);
  const pageErrors = [];
  let passed = 0;
  await withChromium(
    viewport,
    async (context) => {
      await prepare(context);
      const page = context.pages()[0] ?? (await context.newPage());
      page.on('pageerror', (error) => pageErrors.push(error.message));
      page.on('console', (message) => {
        if (message.type() !== 'error') return;
        console.log(`  browser console: ${redact(message.text())}`);
        // The server's Content-Security-Policy must fit the app: a violation fails the scenario.
        if (message.text().includes('Content Security Policy')) pageErrors.push(redact(message.text()));
      });
      for (const scenario of scenarios) {
        console.log(`# ${scenario.name}`);
        try {
          await scenario(page);
        } catch (error) {
          if (screenshots) await page.screenshot({ path: join(screenshots, failureShot), fullPage: true }).catch(() => {});
          throw new E2eFailure(`${scenario.name}: ${describe(error)}`);
        }
        if (pageErrors.length > 0) fail(`${scenario.name}: the page threw: ${pageErrors.join('; ')}`);
        passed += 1;
      }
    },
    chromiumArgs,
  );
  return passed;
}
