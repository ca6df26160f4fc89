// The page's Cognito client against moto's Cognito over the real wire protocol. Run by
// crates/testkit/tests/web_cognito.rs (`cargo test -p serverless-openclaw-testkit --test web_cognito`),
// which starts moto, creates the pools, app clients and users, and names them in
// SERVERLESS_OPENCLAW_MOTO_COGNITO; not part of `npm test` (vitest.moto.config.ts).
//
// The client is amazon-cognito-identity-js: in Node it calls Cognito with the global fetch, which this
// test wraps (motoAsCognito) to read moto's reset code and to fill in one answer where moto says less
// than Cognito. Each client keeps its tokens in a storage of its own here (the page gives sessionStorage).
//
// What moto checks and what it does not (moto 5.2): it answers USER_SRP_AUTH with a PASSWORD_VERIFIER
// challenge whose SALT and SRP_B are random and whose SECRET_BLOCK is a UUID, and it accepts any
// PASSWORD_CLAIM_SIGNATURE, so a wrong password is not caught here (cognito.test.ts checks the library's
// proof against an independent server computation). With MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP=true (the
// launcher sets it) it checks TOTP codes against the key it hands out, in the current 30 s step only.
// ForgotPassword puts the code it "sent" in an `x-moto-forgot-password-confirmation-code` header, and
// ConfirmForgotPassword refuses a wrong code of that form with ExpiredCodeException (Cognito says
// CodeMismatchException).

import { createHmac } from 'node:crypto';
import type { ICognitoStorage } from 'amazon-cognito-identity-js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { CognitoAuth } from '../runtimeConfig';
import { cognitoApi, type CognitoAccount, type CognitoApi, type SignInStep, type Tokens } from './cognito';
import { CognitoSession, SIGNED_OUT } from './cognitoSession';
import { SESSION_ENDED } from './errors';

interface Fixture {
  endpoint: string;
  region: string;
  /** A pool with optional MFA, like the deployment's. */
  userPoolId: string;
  /** Its web client (SRP and refresh tokens only) and a client allowing ADMIN_USER_PASSWORD_AUTH. */
  clientId: string;
  adminClientId: string;
  password: string;
  /** Signs in, refreshes, turns MFA on and off, signs out. */
  user: string;
  /** Resets their password. */
  resetUser: string;
  /** Invited: has a temporary password (`password`) until the first sign-in replaces it. */
  invitedUser: string;
  /** A pool that requires TOTP MFA, its web client, and a user who has no authenticator yet. */
  mfaPoolId: string;
  mfaClientId: string;
  mfaUser: string;
}

function fixture(): Fixture {
  const raw = process.env.SERVERLESS_OPENCLAW_MOTO_COGNITO;
  if (raw === undefined || raw === '') {
    throw new Error('SERVERLESS_OPENCLAW_MOTO_COGNITO is not set: run this through crates/testkit/tests/web_cognito.rs');
  }
  return JSON.parse(raw) as Fixture;
}

const env = fixture();

function authFor(userPoolId: string, clientId: string): CognitoAuth {
  return { kind: 'cognito', region: env.region, userPoolId, userPoolClientId: clientId };
}

/** The code moto would have emailed last (it hands it back in a response header). */
let emailedCode = '';

/**
 * fetch to moto, answering as Cognito does where the library depends on it: Cognito's
 * NEW_PASSWORD_REQUIRED challenge always names the user's attributes and the required ones (as JSON
 * strings, which the library parses); moto's names neither.
 */
async function motoAsCognito(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const response = await realFetch(input, init);
  emailedCode = response.headers.get('x-moto-forgot-password-confirmation-code') ?? emailedCode;
  type Answer = { ChallengeName?: string; ChallengeParameters?: Record<string, string> } | null;
  const body = (await response
    .clone()
    .json()
    .catch(() => null)) as Answer;
  if (body?.ChallengeName !== 'NEW_PASSWORD_REQUIRED' || body.ChallengeParameters?.userAttributes !== undefined) return response;
  body.ChallengeParameters = { ...body.ChallengeParameters, userAttributes: '{}', requiredAttributes: '[]' };
  return new Response(JSON.stringify(body), { status: response.status, headers: response.headers });
}

const realFetch = globalThis.fetch;
beforeAll(() => vi.stubGlobal('fetch', motoAsCognito));
afterAll(() => vi.unstubAllGlobals());

/** What sessionStorage is to the page: where the library keeps the tokens. */
class MemoryStorage implements ICognitoStorage {
  constructor(readonly entries = new Map<string, string>()) {}
  getItem = (key: string) => this.entries.get(key) ?? null;
  setItem = (key: string, value: string) => void this.entries.set(key, value);
  removeItem = (key: string) => void this.entries.delete(key);
  clear = () => this.entries.clear();
  /** The stored tokens (ID, access, refresh), whoever they belong to. */
  tokens(): string[] {
    return [...this.entries.keys()].filter((key) => /\.(idToken|accessToken|refreshToken)$/.test(key));
  }
  /**
   * Makes the stored tokens look as if they expire in `seconds` by this clock, the way the library
   * reckons it: the expiry claim plus the clock drift it stored when it got them.
   */
  expireIn(seconds: number): void {
    const key = (suffix: string) => [...this.entries.keys()].find((name) => name.endsWith(suffix))!;
    const expiry = Math.min(Number(claims(this.getItem(key('.idToken'))!).exp), Number(claims(this.getItem(key('.accessToken'))!).exp));
    this.setItem(key('.clockDrift'), String(Math.floor(Date.now() / 1000) + seconds - expiry));
  }
}

function api(userPoolId = env.userPoolId, clientId = env.clientId, storage = new MemoryStorage()): CognitoApi {
  return cognitoApi(authFor(userPoolId, clientId), { endpoint: env.endpoint, storage });
}

function claims(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

function signedIn(step: SignInStep): CognitoAccount {
  if (step.kind !== 'signedIn') throw new Error(`expected tokens, got ${JSON.stringify(step)}`);
  return step.account;
}

/** The account whose tokens `storage` holds, as the page finds it after a reload. */
async function restored(storage: MemoryStorage): Promise<CognitoAccount> {
  const account = await api(env.userPoolId, env.clientId, storage).restore();
  if (account === null) throw new Error('nothing to restore');
  return account;
}

// RFC 6238 TOTP (HMAC-SHA1, 6 digits, 30 s), what an authenticator app computes from the key.
function base32(text: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const char of text.toUpperCase().replace(/=+$/, '')) {
    const index = alphabet.indexOf(char);
    if (index < 0) throw new Error(`not base32: ${text}`);
    value = ((value << 5) | index) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

function totp(secret: string, epochMs: number, digits = 6): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(epochMs / 30_000)));
  const mac = createHmac('sha1', base32(secret)).update(counter).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits;
  return String(code).padStart(digits, '0');
}

/** The current code, taken early enough in its 30 s step that moto (which accepts only this step) sees the same. */
async function currentCode(secret: string): Promise<string> {
  const left = 30_000 - (Date.now() % 30_000);
  if (left < 5_000) await new Promise((resolve) => setTimeout(resolve, left + 100));
  return totp(secret, Date.now());
}

/** A CognitoSession over `account`, recording what it reports. */
function keep(account: CognitoAccount) {
  const renewed: Tokens[] = [];
  const ended: string[] = [];
  const keeper = new CognitoSession({
    account,
    onRenewed: (next) => renewed.push(next),
    onEnded: (notice) => ended.push(notice),
  });
  return { keeper, renewed, ended };
}

/** ADMIN_USER_PASSWORD_AUTH, the one flow in which moto checks a password. */
async function adminPasswordCheck(username: string, password: string): Promise<number> {
  const response = await fetch(env.endpoint, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-amz-json-1.1',
      'X-Amz-Target': 'AWSCognitoIdentityProviderService.AdminInitiateAuth',
    },
    body: JSON.stringify({
      UserPoolId: env.userPoolId,
      ClientId: env.adminClientId,
      AuthFlow: 'ADMIN_USER_PASSWORD_AUTH',
      AuthParameters: { USERNAME: username, PASSWORD: password },
    }),
  });
  return response.status;
}

describe('the TOTP of this test', () => {
  it("computes RFC 6238's SHA-1 test vectors", () => {
    const secret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ'; // "12345678901234567890"
    expect(totp(secret, 59_000, 8)).toBe('94287082');
    expect(totp(secret, 1_111_111_109_000, 8)).toBe('07081804');
    expect(totp(secret, 20_000_000_000_000, 8)).toBe('65353130');
  });
});

describe("the page's Cognito client against moto", () => {
  /** Where the first sign-in's tokens are kept, and its account. */
  const storage = new MemoryStorage();
  let account: CognitoAccount;
  let tokens: Tokens;

  beforeAll(async () => {
    account = signedIn(await api(env.userPoolId, env.clientId, storage).signIn(env.user, env.password));
    tokens = account.tokens();
  });

  it('signs in with SRP, gets the pool’s ID and access tokens and keeps them in the storage it is given', () => {
    const id = claims(tokens.idToken);
    expect(String(id.iss).endsWith(`/${env.userPoolId}`)).toBe(true);
    expect(id.token_use).toBe('id');
    expect(id.aud).toBe(env.clientId);
    expect(claims(tokens.accessToken).token_use).toBe('access');
    expect(tokens.refreshToken).not.toBe('');
    expect(tokens.expiresAt).toBeGreaterThan(Date.now() + 30 * 60_000);
    expect(tokens.expiresAt).toBeLessThanOrEqual(Date.now() + 60 * 60_000 + 5_000);
    expect(account.userName).toBe(env.user);
    const kept = [...storage.entries.values()];
    expect(kept).toEqual(expect.arrayContaining([tokens.idToken, tokens.accessToken, tokens.refreshToken]));
  });

  it('restores the kept tokens after a reload, and nothing from an empty storage', async () => {
    const again = await restored(new MemoryStorage(new Map(storage.entries)));
    expect(again.tokens()).toEqual({ ...tokens, expiresAt: expect.any(Number) as number });
    expect(Math.abs(again.tokens().expiresAt - tokens.expiresAt)).toBeLessThan(2_000);
    expect(await api().restore()).toBeNull();
  });

  it('renews a token about to expire with REFRESH_TOKEN_AUTH and stores the new one', async () => {
    const expiring = new MemoryStorage(new Map(storage.entries));
    expiring.expireIn(60);
    const { keeper, renewed, ended } = keep(await restored(expiring));
    const fresh = await keeper.freshToken();
    expect(fresh).not.toBe(tokens.idToken);
    expect(claims(fresh)).toMatchObject({ token_use: 'id', aud: env.clientId });
    expect(String(claims(fresh).iss).endsWith(`/${env.userPoolId}`)).toBe(true);
    expect(renewed).toHaveLength(1);
    expect(renewed[0]).toMatchObject({ idToken: fresh, refreshToken: tokens.refreshToken });
    expect(renewed[0]!.expiresAt).toBeGreaterThan(Date.now() + 30 * 60_000);
    expect([...expiring.entries.values()]).toContain(fresh);
    expect(ended).toEqual([]);
  });

  it('turns TOTP MFA on with a code from the key, after refusing a wrong one', async () => {
    const { keeper } = keep(account);
    expect(await keeper.mfa.enabled()).toBe(false);
    const { secret, otpauthUri } = await keeper.mfa.beginEnrolment();
    expect(otpauthUri).toBe(
      `otpauth://totp/serverless-openclaw:${encodeURIComponent(env.user)}?secret=${secret}&issuer=serverless-openclaw`,
    );
    const code = await currentCode(secret);
    const wrong = code === '000000' ? '111111' : '000000';
    await expect(keeper.mfa.confirmEnrolment(wrong)).rejects.toThrow(
      'That code is not right. Try the current one from your authenticator app.',
    );
    expect(await keeper.mfa.enabled()).toBe(false);
    await keeper.mfa.confirmEnrolment(await currentCode(secret));
    expect(await keeper.mfa.enabled()).toBe(true);
  });

  it('then asks for the code at sign-in, refuses a wrong one and accepts the right one', async () => {
    const { secret } = await keep(account).keeper.mfa.beginEnrolment();
    const client = api();
    const step = await client.signIn(env.user, env.password);
    if (step.kind !== 'mfaRequired') throw new Error(`expected the MFA challenge, got ${JSON.stringify(step)}`);
    const code = await currentCode(secret);
    const wrong = await client.answerMfa(step.challenge, code === '000000' ? '111111' : '000000');
    expect(wrong).toMatchObject({
      kind: 'failed',
      error: 'CodeMismatchException',
      message: 'That code is not right. Try the current one from your authenticator app.',
    });
    const right = signedIn(await client.answerMfa(step.challenge, await currentCode(secret)));
    expect(claims(right.tokens().idToken).token_use).toBe('id');
  });

  it('turns MFA off, after which sign-in needs only the password', async () => {
    const { keeper } = keep(account);
    await keeper.mfa.disable();
    expect(await keeper.mfa.enabled()).toBe(false);
    expect((await api().signIn(env.user, env.password)).kind).toBe('signedIn');
  });

  it('signs out everywhere: the tokens are forgotten, the refresh token stops working and that session ends', async () => {
    const before = new MemoryStorage(new Map(storage.entries));
    const { keeper, ended } = keep(account);
    keeper.signOut();
    expect(ended).toEqual([SIGNED_OUT]);
    expect(storage.tokens()).toEqual([]);
    // The sign-out call is best effort and not awaited; give it time to land.
    await new Promise((resolve) => setTimeout(resolve, 500));
    before.expireIn(60);
    const after = keep(await restored(before));
    await expect(after.keeper.freshToken()).rejects.toMatchObject({ type: 'NotAuthorizedException', message: SESSION_ENDED });
    expect(after.ended).toEqual([SESSION_ENDED]);
    expect(before.tokens()).toEqual([]);
  });

  it('replaces the temporary password of an invited user at the first sign-in', async () => {
    const client = api();
    const step = await client.signIn(env.invitedUser, env.password);
    if (step.kind !== 'newPasswordRequired') throw new Error(`expected NEW_PASSWORD_REQUIRED, got ${JSON.stringify(step)}`);
    const done = signedIn(await client.setNewPassword(step.challenge, 'Own-Passw0rd!x'));
    expect(claims(done.tokens().idToken).token_use).toBe('id');
    expect(await adminPasswordCheck(env.invitedUser, 'Own-Passw0rd!x')).toBe(200);
  });

  it('resets a password with the emailed code', async () => {
    const reset = api();
    expect(await reset.forgotPassword(env.resetUser)).toEqual({ kind: 'done' });
    const emailed = emailedCode;
    expect(emailed).toMatch(/^moto-confirmation-code:\d{6}$/);
    const wrong = emailed.endsWith('000000') ? 'moto-confirmation-code:111111' : 'moto-confirmation-code:000000';
    expect(await reset.confirmForgotPassword(env.resetUser, wrong, 'N3w-Password!x')).toEqual({
      kind: 'failed',
      error: 'ExpiredCodeException',
      message: 'That code has expired. Ask for a new one.',
    });
    expect(await adminPasswordCheck(env.resetUser, env.password)).toBe(200);
    expect(await reset.confirmForgotPassword(env.resetUser, emailed, 'N3w-Password!x')).toEqual({ kind: 'done' });
    expect(await adminPasswordCheck(env.resetUser, 'N3w-Password!x')).toBe(200);
    expect(await adminPasswordCheck(env.resetUser, env.password)).toBe(400);
  });

  it('answers a reset for an unknown email like one for a known email', async () => {
    expect(await api().forgotPassword('nobody@example.com')).toEqual({ kind: 'done' });
  });

  it('refuses a wrong password at sign-in with the sign-in message', async () => {
    // moto accepts any SRP proof, so an unknown user stands in for the refusal.
    expect(await api().signIn('nobody@example.com', env.password)).toEqual({
      kind: 'failed',
      error: 'UserNotFoundException',
      message: 'Wrong email or password.',
    });
  });

  it('says the sign-in service cannot be reached when nothing answers', async () => {
    const offline = cognitoApi(authFor(env.userPoolId, env.clientId), { endpoint: 'http://127.0.0.1:9/', storage: new MemoryStorage() });
    expect(await offline.signIn(env.user, env.password)).toEqual({
      kind: 'failed',
      error: 'NetworkError',
      message: 'Could not reach the sign-in service.',
    });
  });

  it('enrols an authenticator during sign-in when the pool requires MFA, and asks for its code next time', async () => {
    const enrolPool = api(env.mfaPoolId, env.mfaClientId);
    const step = await enrolPool.signIn(env.mfaUser, env.password);
    if (step.kind !== 'mfaSetup') throw new Error(`expected MFA_SETUP, got ${JSON.stringify(step)}`);
    expect(step.secret).not.toBe('');
    const enrolled = signedIn(await enrolPool.finishMfaSetup(step.challenge, await currentCode(step.secret)));
    expect(String(claims(enrolled.tokens().idToken).iss).endsWith(`/${env.mfaPoolId}`)).toBe(true);
    expect((await enrolPool.signIn(env.mfaUser, env.password)).kind).toBe('mfaRequired');
  });
});
