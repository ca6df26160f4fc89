// The AWS sign-in (web/src/auth) in a real browser against moto's Cognito. The page is the built
// web/dist, served by this script with a config.json naming the pool; the browser's calls to
// https://cognito-idp.<region>.amazonaws.com/ are handed to moto (Playwright routing), so the page runs
// unchanged; one answer is filled in where moto says less than Cognito (cognitoAnswer). The tokens are
// where the page's Cognito library keeps them: sessionStorage, under the app client's keys. The chat
// behind the sign-in has no server here: its REST call is answered only for a valid ID token of the pool
// (an empty conversation), and the WebSocket is refused.
//
// Run by crates/testkit/tests/web_cognito.rs, which creates the pools and users and passes them in
// SERVERLESS_OPENCLAW_MOTO_COGNITO. Optional: CHROMIUM_PATH (default /usr/bin/chromium),
// SERVERLESS_OPENCLAW_E2E_SCREENSHOT (a .png path, written on failure).
// Prints `1 passed, 0 failed` and exits 0 on success; `0 passed, 1 failed` and exits 1 otherwise.

import { createHmac } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { missingChromium, withChromium } from './chromium.mjs';
import { fail, report } from './scenarios.mjs';

const WHOLE_TEST_TIMEOUT_MS = 180_000;
const STEP_TIMEOUT_MS = 15_000;
const NEW_PASSWORD = 'Browser-Reset-9!';

const screenshotPath = process.env.SERVERLESS_OPENCLAW_E2E_SCREENSHOT;
const dist = fileURLToPath(new URL('../dist/', import.meta.url));

const started = Date.now();
const seconds = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
const step = (text) => console.log(`ok - ${text} (${seconds()})`);

const raw = process.env.SERVERLESS_OPENCLAW_MOTO_COGNITO;
if (!raw) fail('SERVERLESS_OPENCLAW_MOTO_COGNITO is not set: run this through crates/testkit/tests/web_cognito.rs');
/**
 * endpoint, region, password; userPoolId, clientId, user (resets, signs in, MFA), invitedUser; mfaPoolId,
 * mfaClientId, mfaUser (enrols at sign-in). The same fixture as src/auth/cognito.moto.test.ts, on pools of its own.
 */
const env = JSON.parse(raw);

function claims(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
}

/** RFC 6238 TOTP (SHA-1, 6 digits, 30 s), taken early enough in its step for moto, which checks only the current one. */
async function currentCode(secret) {
  const left = 30_000 - (Date.now() % 30_000);
  if (left < 5_000) await new Promise((resolve) => setTimeout(resolve, left + 100));
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const key = [];
  let bits = 0;
  let value = 0;
  for (const char of secret.toUpperCase().replace(/[\s=]/g, '')) {
    value = ((value << 5) | alphabet.indexOf(char)) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      key.push((value >> bits) & 0xff);
    }
  }
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30_000)));
  const mac = createHmac('sha1', Buffer.from(key)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

/** A Cognito call straight to moto, for what the test does behind the page's back. */
async function cognito(target, body) {
  const response = await fetch(env.endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': `AWSCognitoIdentityProviderService.${target}` },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) fail(`${target}: ${response.status} ${text}`);
  return text === '' ? {} : JSON.parse(text);
}

/** The page: web/dist, config.json for the pool in `pool`, and a REST route that checks the bearer token. */
async function servePage(pool) {
  const bearers = [];
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml' };
  const server = createServer(async (request, response) => {
    const url = new URL(request.url, 'http://localhost');
    if (url.pathname === '/config.json') {
      response.writeHead(200, { 'Content-Type': 'application/json' });
      response.end(
        JSON.stringify({
          version: 1,
          apiUrl: `http://127.0.0.1:${server.address().port}`,
          websocketUrl: '/ws',
          auth: { kind: 'cognito', region: env.region, userPoolId: pool.userPoolId, userPoolClientId: pool.clientId },
        }),
      );
      return;
    }
    if (url.pathname.startsWith('/api/')) {
      const token = (request.headers.authorization ?? '').replace(/^Bearer /, '');
      let valid;
      try {
        const c = claims(token);
        valid = c.token_use === 'id' && String(c.iss).endsWith(`/${pool.userPoolId}`) && c.exp * 1000 > Date.now();
      } catch {
        valid = false;
      }
      bearers.push(token);
      response.writeHead(valid ? 404 : 401, { 'Content-Type': 'application/json' });
      response.end(
        JSON.stringify({ error: valid ? { code: 'not_found', message: 'no conversation' } : { code: 'unauthorized', message: 'no' } }),
      );
      return;
    }
    const file = url.pathname === '/' ? 'index.html' : url.pathname.slice(1);
    try {
      const body = await readFile(join(dist, file));
      response.writeHead(200, { 'Content-Type': types[extname(file)] ?? 'application/octet-stream' });
      response.end(body);
    } catch {
      response.writeHead(404);
      response.end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, bearers, url: `http://127.0.0.1:${server.address().port}/` };
}

/** The tokens the page keeps for the web client of `pool` (the library's keys in sessionStorage), or null. */
async function stored(page, pool) {
  return page.evaluate((prefix) => {
    const user = sessionStorage.getItem(`${prefix}.LastAuthUser`);
    const item = (name) => sessionStorage.getItem(`${prefix}.${user}.${name}`);
    if (user === null || item('idToken') === null) return null;
    return { idToken: item('idToken'), accessToken: item('accessToken'), refreshToken: item('refreshToken') };
  }, `CognitoIdentityServiceProvider.${pool.clientId}`);
}

/**
 * Makes the kept tokens look as if they expire in a minute, the way the library reckons expiry: the
 * tokens' `exp` plus the clock drift it stored when it got them.
 */
async function expireSoon(page, pool) {
  const tokens = await stored(page, pool);
  const expiry = Math.min(claims(tokens.idToken).exp, claims(tokens.accessToken).exp);
  const drift = Math.floor(Date.now() / 1000) + 60 - expiry;
  await page.evaluate(
    ([prefix, value]) => sessionStorage.setItem(`${prefix}.${sessionStorage.getItem(`${prefix}.LastAuthUser`)}.clockDrift`, value),
    [`CognitoIdentityServiceProvider.${pool.clientId}`, String(drift)],
  );
}

/**
 * moto's answer as Cognito gives it: Cognito's NEW_PASSWORD_REQUIRED challenge always names the user's
 * attributes and the required ones (JSON strings the library parses); moto's names neither.
 */
function cognitoAnswer(text) {
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    return text;
  }
  if (body?.ChallengeName !== 'NEW_PASSWORD_REQUIRED' || body.ChallengeParameters?.userAttributes !== undefined) return text;
  return JSON.stringify({ ...body, ChallengeParameters: { ...body.ChallengeParameters, userAttributes: '{}', requiredAttributes: '[]' } });
}

async function signInStep(page, expected) {
  await page
    .locator(`[data-testid="sign-in"][data-step="${expected}"]`)
    .waitFor({ timeout: STEP_TIMEOUT_MS })
    .catch(async () => {
      const shown = await page
        .getByTestId('sign-in')
        .getAttribute('data-step', { timeout: 1_000 })
        .catch(() => 'no sign-in form');
      fail(`expected the sign-in step ${expected}, the page shows ${shown}`);
    });
  return page.getByTestId('sign-in');
}

async function chatShown(page, what) {
  await page
    .getByTestId('message-list')
    .waitFor({ timeout: STEP_TIMEOUT_MS })
    .catch(() => fail(`${what}: the chat page did not appear`));
}

async function focusedLabel(page) {
  return page.evaluate(() => document.activeElement?.closest('label')?.textContent?.trim() ?? document.activeElement?.tagName);
}

async function run(page, site, confirmationCodes) {
  await page.goto(site.url);
  await signInStep(page, 'credentials');
  if ((await focusedLabel(page)) !== 'Email') fail(`the email field should have focus, not ${await focusedLabel(page)}`);
  step('the sign-in form, focus on the email');

  // Forgot password: a code by "email" (moto hands it back in a header), then the code and a new password.
  await page.getByTestId('forgot-password').click();
  const reset = page.getByTestId('password-reset');
  await reset.getByLabel('Email').fill(env.user);
  await reset.getByRole('button', { name: 'Email me a code' }).click();
  await page.locator('[data-testid="password-reset"][data-step="confirm"]').waitFor({ timeout: STEP_TIMEOUT_MS });
  const code = confirmationCodes.at(-1);
  if (!code) fail('moto did not hand out a confirmation code');
  await reset.getByLabel('Code from the email').fill('moto-confirmation-code:000000');
  await reset.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
  await reset.getByLabel('Repeat the new password').fill(NEW_PASSWORD);
  await reset.getByRole('button', { name: 'Change password' }).click();
  const resetError = await page.getByTestId('reset-error').textContent({ timeout: STEP_TIMEOUT_MS });
  if (!resetError.includes('expired')) fail(`a wrong code should be refused, the page says: ${resetError}`);
  await reset.getByLabel('Code from the email').fill(code);
  await reset.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
  await reset.getByLabel('Repeat the new password').fill(NEW_PASSWORD);
  await reset.getByRole('button', { name: 'Change password' }).click();
  let form = await signInStep(page, 'credentials');
  const notice = await page.getByTestId('sign-in-notice').textContent();
  if (!notice.includes('password has been changed')) fail(`no notice after the reset: ${notice}`);
  if ((await form.getByLabel('Email').inputValue()) !== env.user) fail('the email is not filled in after the reset');
  if ((await focusedLabel(page)) !== 'Password') fail(`the password field should have focus, not ${await focusedLabel(page)}`);
  step('password reset: a wrong code refused, the right one sets the new password');

  await form.getByLabel('Password').fill(NEW_PASSWORD);
  await form.getByRole('button', { name: 'Sign in' }).click();
  await chatShown(page, 'signing in with the new password');
  const first = await stored(page, site.pool);
  if (!first || claims(first.idToken).token_use !== 'id' || !first.refreshToken) fail('the tokens are not kept');
  step('signed in by SRP with the new password; the tokens are in sessionStorage');

  await page.reload();
  await chatShown(page, 'reloading');
  step('a reload keeps the session');

  // Tokens about to expire when the page opens: it renews them before showing the app.
  await expireSoon(page, site.pool);
  const bearersBefore = site.bearers.length;
  await page.reload();
  await chatShown(page, 'reloading with tokens about to expire');
  const renewed = await stored(page, site.pool);
  if (renewed.idToken === first.idToken) fail('the ID token was not renewed');
  if (claims(renewed.idToken).exp * 1000 < Date.now() + 30 * 60_000) fail('the renewed tokens do not last');
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  while (!site.bearers.slice(bearersBefore).includes(renewed.idToken)) {
    if (Date.now() > deadline) fail('the chat did not use the renewed ID token');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  step('tokens about to expire are renewed (REFRESH_TOKEN_AUTH) before the app starts, and the app uses the new ID token');

  // Two-step sign-in turned on (as the settings page does), then a sign-in asks for the code.
  const { SecretCode: secret } = await cognito('AssociateSoftwareToken', { AccessToken: renewed.accessToken });
  await cognito('VerifySoftwareToken', { AccessToken: renewed.accessToken, UserCode: await currentCode(secret) });
  await cognito('SetUserMFAPreference', {
    AccessToken: renewed.accessToken,
    SoftwareTokenMfaSettings: { Enabled: true, PreferredMfa: true },
  });
  await page.evaluate(() => sessionStorage.clear());
  await page.reload();
  form = await signInStep(page, 'credentials');
  await form.getByLabel('Email').fill(env.user);
  await form.getByLabel('Password').fill(NEW_PASSWORD);
  await form.getByRole('button', { name: 'Sign in' }).click();
  form = await signInStep(page, 'mfaCode');
  const codeField = form.getByLabel('Code from the app');
  if ((await codeField.getAttribute('autocomplete')) !== 'one-time-code' || (await codeField.getAttribute('inputmode')) !== 'numeric') {
    fail('the code field is not marked as a one-time code');
  }
  if ((await focusedLabel(page)) !== 'Code from the app') fail(`the code field should have focus, not ${await focusedLabel(page)}`);
  const right = await currentCode(secret);
  await codeField.fill(right === '000000' ? '111111' : '000000');
  await form.getByRole('button', { name: 'Sign in' }).click();
  const mfaError = await page.getByTestId('sign-in-error').textContent({ timeout: STEP_TIMEOUT_MS });
  if (!mfaError.includes('code is not right')) fail(`a wrong code should be refused, the page says: ${mfaError}`);
  await signInStep(page, 'mfaCode');
  await codeField.fill(await currentCode(secret));
  await form.getByRole('button', { name: 'Sign in' }).click();
  await chatShown(page, 'answering the MFA challenge');
  step('with MFA on, sign-in asks for the code: a wrong one refused (same step), the right one signs in');

  // Signed out elsewhere: the refresh token is revoked, and the next renewal ends the session.
  const mfaSession = await stored(page, site.pool);
  await cognito('GlobalSignOut', { AccessToken: mfaSession.accessToken });
  await expireSoon(page, site.pool);
  await page.reload();
  await signInStep(page, 'credentials');
  const ended = await page.getByTestId('sign-in-notice').textContent();
  if (ended !== 'Your session has ended. Sign in again.') fail(`expected the session-ended notice, got: ${ended}`);
  if ((await stored(page, site.pool)) !== null) fail('the ended session is still stored');
  step('a revoked refresh token ends the session with "Your session has ended. Sign in again."');

  // A pool that requires MFA: a user without an authenticator enrols one during sign-in.
  site.pool.userPoolId = env.mfaPoolId;
  site.pool.clientId = env.mfaClientId;
  await page.reload();
  form = await signInStep(page, 'credentials');
  await form.getByLabel('Email').fill(env.mfaUser);
  await form.getByLabel('Password').fill(env.password);
  await form.getByRole('button', { name: 'Sign in' }).click();
  form = await signInStep(page, 'mfaSetup');
  const qr = page.getByRole('img', { name: 'QR code to add this account to an authenticator app' });
  const modules = await qr.locator('path').getAttribute('d');
  if (!modules || modules.split('h1v1h-1z').length < 100) fail('the QR code has no modules');
  const focusedHeading = await page.evaluate(() => document.activeElement?.tagName);
  if (focusedHeading !== 'H1') fail(`the heading should have focus when enrolment starts, not ${focusedHeading}`);
  const key = (await page.getByTestId('authenticator-key').textContent()).replace(/\s/g, '');
  await form.getByLabel('Code from the app').fill(await currentCode(key));
  await page.getByRole('button', { name: 'Turn on and sign in' }).click();
  await chatShown(page, 'enrolling at sign-in');
  const enrolled = await stored(page, site.pool);
  if (!String(claims(enrolled.idToken).iss).endsWith(`/${env.mfaPoolId}`)) fail('signed in to the wrong pool');
  step('MFA set-up at sign-in: QR code and key shown, the first code signs in');

  // The first sign-in of an invited user: the temporary password, then their own.
  await page.evaluate(() => sessionStorage.clear());
  site.pool.userPoolId = env.userPoolId;
  site.pool.clientId = env.clientId;
  await page.reload();
  form = await signInStep(page, 'credentials');
  await form.getByLabel('Email').fill(env.invitedUser);
  await form.getByLabel('Password').fill(env.password);
  await form.getByRole('button', { name: 'Sign in' }).click();
  form = await signInStep(page, 'newPassword');
  if ((await form.getByLabel('New password').getAttribute('autocomplete')) !== 'new-password')
    fail('the new password field is not marked new-password');
  await form.getByLabel('New password').fill('Invited-Own-9!x');
  await form.getByRole('button', { name: 'Sign in' }).click();
  await chatShown(page, 'choosing a new password');
  step('an invited user replaces the temporary password at the first sign-in');
}

async function main() {
  if (!existsSync(join(dist, 'index.html'))) fail('web/dist is missing: run `make web`');
  const missing = missingChromium();
  if (missing) fail(missing);
  const pool = { userPoolId: env.userPoolId, clientId: env.clientId };
  const site = { ...(await servePage(pool)), pool };
  const pageErrors = [];
  const confirmationCodes = [];
  try {
    await withChromium({ width: 960, height: 900 }, async (context) => {
      // The page calls Cognito's real endpoint; moto answers instead.
      await context.route(`https://cognito-idp.${env.region}.amazonaws.com/**`, async (route) => {
        const response = await route.fetch({ url: env.endpoint });
        const code = response.headers()['x-moto-forgot-password-confirmation-code'];
        if (code) confirmationCodes.push(code);
        // The body may have changed length: the headers go without moto's Content-Length.
        const headers = Object.fromEntries(Object.entries(response.headers()).filter(([name]) => name !== 'content-length'));
        await route.fulfill({
          response,
          body: cognitoAnswer(await response.text()),
          headers: { ...headers, 'access-control-allow-origin': '*' },
        });
      });
      const page = context.pages()[0] ?? (await context.newPage());
      page.on('pageerror', (error) => pageErrors.push(error.message));
      try {
        await run(page, site, confirmationCodes);
      } catch (error) {
        if (screenshotPath) await page.screenshot({ path: screenshotPath, fullPage: true }).catch(() => {});
        throw error;
      }
      if (pageErrors.length > 0) fail(`the page threw: ${pageErrors.join('; ')}`);
    });
  } finally {
    site.server.close();
  }
}

await report('cognito e2e', WHOLE_TEST_TIMEOUT_MS, async () => {
  await main();
  return 1;
});
