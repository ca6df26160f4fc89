// What cognito.ts adds to the library: the steps the form shows, the promise wrapper, the expiry it
// reckons, and Cognito's errors turned into the page's messages; and the library's SRP proof, checked by
// an independent server computation (testing/srpServer.ts). Cognito is scripted here through the global
// fetch the library calls; the real wire protocol is cognito.moto.test.ts's.

import type { ICognitoStorage } from 'amazon-cognito-identity-js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CognitoAuth } from '../runtimeConfig';
import { CognitoError, cognitoApi, errorType, type SignInStep } from './cognito';
import { NETWORK_ERROR, SESSION_ENDED } from './errors';
import { serverChallenge, verifierFor } from './testing/srpServer';

const auth: CognitoAuth = { kind: 'cognito', region: 'eu-west-1', userPoolId: 'eu-west-1_AbC123', userPoolClientId: 'client1' };

type Reply = [status: number, body: unknown];

function storage(): ICognitoStorage {
  const entries = new Map<string, string>();
  return {
    getItem: (key) => entries.get(key) ?? null,
    setItem: (key, value) => void entries.set(key, value),
    removeItem: (key) => void entries.delete(key),
    clear: () => entries.clear(),
  };
}

/** A scripted Cognito: `reply` answers each call by its target; the calls are recorded. */
function cognito(reply: (target: string, body: Record<string, unknown>) => Reply) {
  const targets: string[] = [];
  const bodies: string[] = [];
  vi.stubGlobal('fetch', (url: string, init: RequestInit) => {
    expect(url).toBe('http://cognito.test/');
    const target = (init.headers as Record<string, string>)['X-Amz-Target']!.replace('AWSCognitoIdentityProviderService.', '');
    const body = init.body as string;
    targets.push(target);
    bodies.push(body);
    const [status, answer] = reply(target, JSON.parse(body) as Record<string, unknown>);
    return Promise.resolve(new Response(answer === undefined ? '' : JSON.stringify(answer), { status }));
  });
  return { targets, bodies, api: cognitoApi(auth, { endpoint: 'http://cognito.test/', storage: storage() }) };
}

/**
 * A user pool holding one user's SRP verifier: it checks the password claim as Cognito does, then
 * answers with tokens.
 */
function srpPool(password: string) {
  const verifier = verifierFor('AbC123', 'internal-user-id', password);
  let challenge: ReturnType<typeof serverChallenge> | null = null;
  return cognito((target, body) => {
    const parameters = (body.AuthParameters ?? body.ChallengeResponses) as Record<string, string>;
    if (target === 'InitiateAuth') {
      challenge = serverChallenge(verifier, parameters.SRP_A!);
      const { salt, srpB, secretBlock } = challenge;
      return [
        200,
        {
          ChallengeName: 'PASSWORD_VERIFIER',
          ChallengeParameters: { SALT: salt, SRP_B: srpB, SECRET_BLOCK: secretBlock, USER_ID_FOR_SRP: 'internal-user-id' },
        },
      ];
    }
    const expected = challenge!.expectedSignature('AbC123', 'internal-user-id', parameters.TIMESTAMP!);
    if (parameters.PASSWORD_CLAIM_SIGNATURE !== expected) {
      return [400, { __type: 'NotAuthorizedException', message: 'Incorrect username or password.' }];
    }
    return [200, { AuthenticationResult: authenticationResult() }];
  });
}

const NOW_S = () => Math.floor(Date.now() / 1000);

/** A JWT with these claims (the library reads the payload; the signature is Cognito's business). */
function jwt(claims: Record<string, unknown>): string {
  return ['e30', Buffer.from(JSON.stringify(claims)).toString('base64url'), 'sig'].join('.');
}

function authenticationResult(issuedAt = NOW_S(), lifetime = 3600) {
  const times = { iat: issuedAt, exp: issuedAt + lifetime };
  return {
    IdToken: jwt({ ...times, token_use: 'id', email: 'owner@example.com' }),
    AccessToken: jwt({ ...times, token_use: 'access' }),
    RefreshToken: 'refresh.token',
    ExpiresIn: lifetime,
  };
}

const SRP_CHALLENGE: Reply = [
  200,
  {
    ChallengeName: 'PASSWORD_VERIFIER',
    ChallengeParameters: { USER_ID_FOR_SRP: 'user-1', SALT: 'a1b2c3', SRP_B: 'f'.repeat(64), SECRET_BLOCK: 'c2VjcmV0' },
    Session: 'srp-session',
  },
];

/** Signs in; InitiateAuth gets the SRP challenge, RespondToAuthChallenge gets `afterPassword`. */
function signInAnswered(afterPassword: Reply) {
  const scripted = cognito((target) => (target === 'InitiateAuth' ? SRP_CHALLENGE : afterPassword));
  return { ...scripted, step: scripted.api.signIn('owner@example.com', 'Correct-Horse-9!') };
}

function account(step: SignInStep) {
  if (step.kind !== 'signedIn') throw new Error(`expected tokens, got ${JSON.stringify(step)}`);
  return step.account;
}

afterEach(() => vi.unstubAllGlobals());

describe('errorType', () => {
  it("is the library's error code or a CognitoError's type; InvalidResponse for the library's own refusals", () => {
    expect(errorType(Object.assign(new Error('x'), { code: 'CodeMismatchException' }))).toBe('CodeMismatchException');
    expect(errorType(Object.assign(new Error('Network error'), { code: NETWORK_ERROR }))).toBe(NETWORK_ERROR);
    expect(errorType(new CognitoError('NotAuthorizedException', SESSION_ENDED))).toBe('NotAuthorizedException');
    expect(errorType(new TypeError("Cannot read properties of undefined (reading 'IdToken')"))).toBe('InvalidResponse');
    expect(errorType(new Error('User is not authenticated'))).toBe('InvalidResponse');
  });
});

describe('sign-in', () => {
  it('proves the password by SRP the way a server holding only the verifier checks it, and never sends it', async () => {
    const { api, bodies } = srpPool('Correct-Horse-9!');
    expect((await api.signIn('owner@example.com', 'Correct-Horse-9!')).kind).toBe('signedIn');
    expect(JSON.parse(bodies[1]!)).toMatchObject({
      ChallengeName: 'PASSWORD_VERIFIER',
      ClientId: 'client1',
      ChallengeResponses: {
        USERNAME: 'internal-user-id',
        TIMESTAMP: expect.stringMatching(/^(Sun|Mon|Tue|Wed|Thu|Fri|Sat) [A-Z][a-z]{2} [1-9]\d? \d\d:\d\d:\d\d UTC \d{4}$/) as string,
      },
    });
    expect(bodies.join('')).not.toContain('Correct-Horse-9!');
  });

  it('is refused with a wrong password, in plain words', async () => {
    const { api } = srpPool('Correct-Horse-9!');
    expect(await api.signIn('owner@example.com', 'Correct-Horse-8!')).toEqual({
      kind: 'failed',
      message: 'Wrong email or password.',
      error: 'NotAuthorizedException',
    });
  });

  it('answers the SRP challenge and is signed in: the email from the ID token, the expiry from its claims', async () => {
    const { targets, step } = signInAnswered([200, { AuthenticationResult: authenticationResult() }]);
    const signedIn = account(await step);
    expect(targets).toEqual(['InitiateAuth', 'RespondToAuthChallenge']);
    expect(signedIn.userName).toBe('owner@example.com');
    expect(signedIn.tokens().refreshToken).toBe('refresh.token');
    expect(Math.abs(signedIn.tokens().expiresAt - (Date.now() + 3600_000))).toBeLessThan(2_000);
  });

  it("reckons the expiry by this page's clock when Cognito's runs ten minutes behind", async () => {
    const { step } = signInAnswered([200, { AuthenticationResult: authenticationResult(NOW_S() - 600) }]);
    expect(Math.abs(account(await step).tokens().expiresAt - (Date.now() + 3600_000))).toBeLessThan(2_000);
  });

  it('strips the namespace from an error type', async () => {
    const { api } = cognito(() => [400, { __type: 'com.amazonaws.cognito#UserNotFoundException' }]);
    expect(await api.signIn('nobody@example.com', 'x')).toMatchObject({
      error: 'UserNotFoundException',
      message: 'Wrong email or password.',
    });
  });

  it('asks for the authenticator code, and answers it as SOFTWARE_TOKEN_MFA in the same Cognito session', async () => {
    const bodies: Record<string, unknown>[] = [];
    const { api } = cognito((target, body) => {
      if (target === 'InitiateAuth') return SRP_CHALLENGE;
      bodies.push(body);
      return bodies.length === 1
        ? [200, { ChallengeName: 'SOFTWARE_TOKEN_MFA', Session: 'mfa-session', ChallengeParameters: {} }]
        : [400, { __type: 'CodeMismatchException' }];
    });
    const step = await api.signIn('owner@example.com', 'Correct-Horse-9!');
    if (step.kind !== 'mfaRequired') throw new Error(`expected mfaRequired, got ${step.kind}`);
    expect(await api.answerMfa(step.challenge, '000000')).toEqual({
      kind: 'failed',
      error: 'CodeMismatchException',
      message: 'That code is not right. Try the current one from your authenticator app.',
    });
    expect(bodies[1]).toMatchObject({
      ChallengeName: 'SOFTWARE_TOKEN_MFA',
      Session: 'mfa-session',
      ChallengeResponses: { SOFTWARE_TOKEN_MFA_CODE: '000000' },
    });
  });

  it('asks for a new password after the temporary one', async () => {
    const { step } = signInAnswered([
      200,
      { ChallengeName: 'NEW_PASSWORD_REQUIRED', Session: 's', ChallengeParameters: { userAttributes: '{}', requiredAttributes: '[]' } },
    ]);
    expect((await step).kind).toBe('newPasswordRequired');
  });

  it('starts enrolling an authenticator when the pool requires MFA, with the key Cognito hands out', async () => {
    const { api } = cognito((target) =>
      target === 'InitiateAuth'
        ? SRP_CHALLENGE
        : target === 'AssociateSoftwareToken'
          ? [200, { SecretCode: 'JBSWY3DPEHPK3PXP', Session: 'associate-session' }]
          : [200, { ChallengeName: 'MFA_SETUP', Session: 'setup-session', ChallengeParameters: {} }],
    );
    expect(await api.signIn('owner@example.com', 'Correct-Horse-9!')).toMatchObject({ kind: 'mfaSetup', secret: 'JBSWY3DPEHPK3PXP' });
  });

  it('says which challenge it does not support', async () => {
    const { step } = signInAnswered([200, { ChallengeName: 'SMS_MFA', Session: 's', ChallengeParameters: {} }]);
    expect(await step).toEqual({
      kind: 'failed',
      error: 'UnsupportedChallenge',
      message: 'Sign-in needs a step this page does not support (SMS_MFA).',
    });
  });
});

describe('password reset', () => {
  it('answers an unknown email like a known one', async () => {
    const { api } = cognito(() => [400, { __type: 'UserNotFoundException' }]);
    expect(await api.forgotPassword('nobody@example.com')).toEqual({ kind: 'done' });
  });

  it('passes on other refusals with the reset messages', async () => {
    const { api } = cognito(() => [400, { __type: 'LimitExceededException' }]);
    expect(await api.forgotPassword('owner@example.com')).toEqual({
      kind: 'failed',
      error: 'LimitExceededException',
      message: 'Too many attempts. Wait a while and try again.',
    });
    expect(await api.confirmForgotPassword('owner@example.com', '1', 'x')).toMatchObject({ error: 'LimitExceededException' });
  });
});

describe("a signed-in account's calls", () => {
  async function signedIn(reply: (target: string) => Reply) {
    const { api, targets } = cognito((target) => {
      if (target === 'InitiateAuth') return SRP_CHALLENGE;
      return target === 'RespondToAuthChallenge' ? [200, { AuthenticationResult: authenticationResult() }] : reply(target);
    });
    return { account: account(await api.signIn('owner@example.com', 'Correct-Horse-9!')), targets };
  }

  it('reject with a CognitoError whose message is for the user', async () => {
    const { account } = await signedIn(() => [400, { __type: 'NotAuthorizedException' }]);
    await expect(account.totpMfaEnabled()).rejects.toMatchObject({ type: 'NotAuthorizedException', message: SESSION_ENDED });
    await expect(account.setTotpMfa(true)).rejects.toMatchObject({ type: 'NotAuthorizedException', message: SESSION_ENDED });
  });

  it('read whether TOTP MFA is on from Cognito each time', async () => {
    let enabled = false;
    const { account, targets } = await signedIn(() => [
      200,
      { Username: 'user-1', UserAttributes: [], UserMFASettingList: enabled ? ['SOFTWARE_TOKEN_MFA'] : [] },
    ]);
    expect(await account.totpMfaEnabled()).toBe(false);
    enabled = true;
    expect(await account.totpMfaEnabled()).toBe(true);
    expect(targets.filter((target) => target === 'GetUser')).toHaveLength(2);
  });

  it('refuse a first code Cognito does not accept', async () => {
    const { account } = await signedIn(() => [200, { Status: 'ERROR' }]);
    await expect(account.verifySoftwareToken('000000')).rejects.toMatchObject({ type: 'CodeMismatchException' });
  });
});
