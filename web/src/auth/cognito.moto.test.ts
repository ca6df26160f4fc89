// The page's Cognito client against moto's Cognito over the real wire protocol. Run by
// crates/testkit/tests/web_cognito.rs (`cargo test -p serverless-openclaw-testkit --test web_cognito`),
// which starts moto, creates the pools, app clients and users, and names them in
// SERVERLESS_OPENCLAW_MOTO_COGNITO; not part of `npm test` (vitest.moto.config.ts).
//
// What moto checks and what it does not (moto 5.2): it answers USER_SRP_AUTH with a PASSWORD_VERIFIER
// challenge whose SALT and SRP_B are random and whose SECRET_BLOCK is a UUID, and it accepts any
// PASSWORD_CLAIM_SIGNATURE, so a wrong password is not caught here (srp.test.ts checks the proof
// against an independent server computation). With MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP=true (the
// launcher sets it) it checks TOTP codes against the key it hands out, in the current 30 s step only.
// ForgotPassword puts the code it "sent" in an `x-moto-forgot-password-confirmation-code` header, and
// ConfirmForgotPassword refuses a wrong code of that form with ExpiredCodeException (Cognito says
// CodeMismatchException).

import { createHmac } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CognitoAuth } from '../runtimeConfig';
import { cognitoApi, type CognitoApi, type Fetch, type SignInStep, type Tokens } from './cognito';
import { CognitoSession, SIGNED_OUT, type SignedIn } from './cognitoSession';
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

function api(userPoolId = env.userPoolId, clientId = env.clientId, fetchImpl?: Fetch): CognitoApi {
  return cognitoApi(authFor(userPoolId, clientId), fetchImpl === undefined ? { endpoint: env.endpoint } : { endpoint: env.endpoint, fetch: fetchImpl });
}

function claims(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

function signedIn(step: SignInStep): Tokens {
  if (step.kind !== 'signedIn') throw new Error(`expected tokens, got ${JSON.stringify(step)}`);
  return step.tokens;
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

/** A CognitoSession over `tokens`, recording what it reports. */
function keep(tokens: Tokens, userName = env.user) {
  const renewed: SignedIn[] = [];
  const ended: string[] = [];
  const keeper = new CognitoSession({
    api: api(),
    signedIn: { tokens, userName },
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
  let tokens: Tokens;

  beforeAll(async () => {
    tokens = signedIn(await api().signIn(env.user, env.password));
  });

  it('signs in with SRP and gets the pool’s ID and access tokens', () => {
    const id = claims(tokens.idToken);
    expect(String(id.iss).endsWith(`/${env.userPoolId}`)).toBe(true);
    expect(id.token_use).toBe('id');
    expect(id.aud).toBe(env.clientId);
    expect(claims(tokens.accessToken).token_use).toBe('access');
    expect(tokens.refreshToken).not.toBe('');
    expect(tokens.expiresAt).toBeGreaterThan(Date.now() + 30 * 60_000);
  });

  it('renews a token about to expire with REFRESH_TOKEN_AUTH', async () => {
    const { keeper, renewed, ended } = keep({ ...tokens, expiresAt: Date.now() + 60_000 });
    const fresh = await keeper.freshToken();
    expect(fresh).not.toBe(tokens.idToken);
    expect(claims(fresh)).toMatchObject({ token_use: 'id', aud: env.clientId });
    expect(String(claims(fresh).iss).endsWith(`/${env.userPoolId}`)).toBe(true);
    expect(renewed).toHaveLength(1);
    expect(renewed[0]!.tokens).toMatchObject({ idToken: fresh, refreshToken: tokens.refreshToken });
    expect(ended).toEqual([]);
  });

  it('turns TOTP MFA on with a code from the key, after refusing a wrong one', async () => {
    const { keeper } = keep(tokens);
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
    const { secret } = await keep(tokens).keeper.mfa.beginEnrolment();
    const step = await api().signIn(env.user, env.password);
    if (step.kind !== 'mfaRequired') throw new Error(`expected the MFA challenge, got ${JSON.stringify(step)}`);
    const code = await currentCode(secret);
    const wrong = await api().answerMfa(step.challenge, code === '000000' ? '111111' : '000000');
    expect(wrong).toMatchObject({
      kind: 'failed',
      error: 'CodeMismatchException',
      message: 'That code is not right. Try the current one from your authenticator app.',
    });
    const right = signedIn(await api().answerMfa(step.challenge, await currentCode(secret)));
    expect(claims(right.idToken).token_use).toBe('id');
  });

  it('turns MFA off, after which sign-in needs only the password', async () => {
    const { keeper } = keep(tokens);
    await keeper.mfa.disable();
    expect(await keeper.mfa.enabled()).toBe(false);
    expect((await api().signIn(env.user, env.password)).kind).toBe('signedIn');
  });

  it('signs out everywhere: the refresh token stops working and the session ends', async () => {
    const { keeper, ended } = keep(tokens);
    keeper.signOut();
    expect(ended).toEqual([SIGNED_OUT]);
    // The sign-out call is best effort and not awaited; give it time to land.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const after = keep({ ...tokens, expiresAt: Date.now() + 60_000 });
    await expect(after.keeper.freshToken()).rejects.toMatchObject({ type: 'NotAuthorizedException' });
    expect(after.ended).toEqual([SESSION_ENDED]);
  });

  it('replaces the temporary password of an invited user at the first sign-in', async () => {
    const step = await api().signIn(env.invitedUser, env.password);
    if (step.kind !== 'newPasswordRequired') throw new Error(`expected NEW_PASSWORD_REQUIRED, got ${JSON.stringify(step)}`);
    expect(step.challenge.username).toBe(env.invitedUser);
    const done = signedIn(await api().setNewPassword(step.challenge, 'Own-Passw0rd!x'));
    expect(claims(done.idToken).token_use).toBe('id');
    expect(await adminPasswordCheck(env.invitedUser, 'Own-Passw0rd!x')).toBe(200);
  });

  it('resets a password with the emailed code', async () => {
    // moto puts the code it would have emailed in a response header; the test reads it off the wire.
    let emailed = '';
    const recording: Fetch = async (input, init) => {
      const response = await fetch(input, init);
      emailed = response.headers.get('x-moto-forgot-password-confirmation-code') ?? emailed;
      return response;
    };
    const reset = api(env.userPoolId, env.clientId, recording);
    expect(await reset.forgotPassword(env.resetUser)).toEqual({ kind: 'done' });
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

  it('enrols an authenticator during sign-in when the pool requires MFA, and asks for its code next time', async () => {
    const enrolPool = api(env.mfaPoolId, env.mfaClientId);
    const step = await enrolPool.signIn(env.mfaUser, env.password);
    if (step.kind !== 'mfaSetup') throw new Error(`expected MFA_SETUP, got ${JSON.stringify(step)}`);
    expect(step.secret).not.toBe('');
    const enrolled = signedIn(await enrolPool.finishMfaSetup(step.challenge, await currentCode(step.secret)));
    expect(String(claims(enrolled.idToken).iss).endsWith(`/${env.mfaPoolId}`)).toBe(true);
    expect((await enrolPool.signIn(env.mfaUser, env.password)).kind).toBe('mfaRequired');
  });
});
