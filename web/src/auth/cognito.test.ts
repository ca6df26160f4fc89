import { describe, expect, it } from 'vitest';
import type { CognitoAuth } from '../runtimeConfig';
import { CognitoError, cognitoApi } from './cognito';
import { serverChallenge, verifierFor } from './testing/srpServer';

const auth: CognitoAuth = { kind: 'cognito', region: 'eu-west-1', userPoolId: 'eu-west-1_AbC123', userPoolClientId: 'client1' };

type Reply = [status: number, body: unknown];
type Call = { url: string; target: string; body: any };

/** A scripted Cognito: `reply` answers each call by its target; every call is recorded. */
function cognito(reply: (target: string, body: any) => Reply) {
  const calls: Call[] = [];
  const fetchImpl = async (url: string, init: RequestInit) => {
    const headers = init.headers as Record<string, string>;
    expect(init.method).toBe('POST');
    expect(headers['Content-Type']).toBe('application/x-amz-json-1.1');
    const target = headers['X-Amz-Target']!.replace('AWSCognitoIdentityProviderService.', '');
    const body = JSON.parse(String(init.body));
    calls.push({ url, target, body });
    const [status, answer] = reply(target, body);
    return new Response(answer === undefined ? '' : JSON.stringify(answer), { status });
  };
  return { calls, api: cognitoApi(auth, { fetch: fetchImpl }) };
}

const TOKENS = { IdToken: 'id.token', AccessToken: 'access.token', RefreshToken: 'refresh.token', ExpiresIn: 3600 };

/**
 * A user pool holding one user's SRP verifier: it checks the page's password claim like Cognito, then
 * answers with `afterPassword` (tokens, or the next challenge).
 */
function srpPool(password: string, afterPassword: (target: string, body: any) => Reply = () => [200, { AuthenticationResult: TOKENS }]) {
  const verifier = verifierFor('AbC123', 'internal-user-id', password);
  let challenge: ReturnType<typeof serverChallenge> | null = null;
  return cognito((target, body) => {
    if (target === 'InitiateAuth') {
      challenge = serverChallenge(verifier, body.AuthParameters.SRP_A);
      return [
        200,
        {
          ChallengeName: 'PASSWORD_VERIFIER',
          ChallengeParameters: {
            SALT: challenge.salt,
            SRP_B: challenge.srpB,
            SECRET_BLOCK: challenge.secretBlock,
            USER_ID_FOR_SRP: 'internal-user-id',
            USERNAME: 'internal-user-id',
          },
        },
      ];
    }
    if (target === 'RespondToAuthChallenge' && body.ChallengeName === 'PASSWORD_VERIFIER') {
      const responses = body.ChallengeResponses;
      const expected = challenge!.expectedSignature('AbC123', 'internal-user-id', responses.TIMESTAMP);
      if (responses.PASSWORD_CLAIM_SIGNATURE !== expected) {
        return [400, { __type: 'NotAuthorizedException', message: 'Incorrect username or password.' }];
      }
      return [200, { AuthenticationResult: TOKENS }];
    }
    return afterPassword(target, body);
  });
}

/** A pool whose password check is done: it answers PASSWORD_VERIFIER with `verified`, the rest with `rest`. */
function passwordAccepted(verified: unknown, rest: (target: string, body: any) => Reply = () => [500, {}]) {
  return cognito((target, body) => {
    if (target === 'InitiateAuth') {
      return [
        200,
        {
          ChallengeName: 'PASSWORD_VERIFIER',
          Session: 'srp-session',
          ChallengeParameters: { SALT: 'ab', SRP_B: 'cd', SECRET_BLOCK: 'c2Vzc2lvbg==', USER_ID_FOR_SRP: 'uid', USERNAME: 'uid' },
        },
      ];
    }
    if (body.ChallengeName === 'PASSWORD_VERIFIER') return [200, verified];
    return rest(target, body);
  });
}

describe('Cognito sign-in', () => {
  it('signs in with SRP: the pool checks the password claim and answers with the tokens', async () => {
    const { calls, api } = srpPool('Correct-Horse-9!');
    const before = Date.now();
    const step = await api.signIn('owner@example.com', 'Correct-Horse-9!');
    expect(step).toMatchObject({
      kind: 'signedIn',
      tokens: { idToken: 'id.token', accessToken: 'access.token', refreshToken: 'refresh.token' },
    });
    expect(step.kind === 'signedIn' && step.tokens.expiresAt).toBeGreaterThanOrEqual(before + 3_600_000);
    expect(calls.map((call) => call.url)).toEqual(['https://cognito-idp.eu-west-1.amazonaws.com/', 'https://cognito-idp.eu-west-1.amazonaws.com/']);
    const [start, verify] = calls;
    expect(start!.body).toEqual({
      AuthFlow: 'USER_SRP_AUTH',
      ClientId: 'client1',
      AuthParameters: { USERNAME: 'owner@example.com', SRP_A: expect.stringMatching(/^[0-9a-f]{700,}$/) },
    });
    expect(verify!.body).toMatchObject({
      ChallengeName: 'PASSWORD_VERIFIER',
      ClientId: 'client1',
      ChallengeResponses: {
        USERNAME: 'internal-user-id',
        PASSWORD_CLAIM_SECRET_BLOCK: expect.any(String),
        TIMESTAMP: expect.stringMatching(/^(Sun|Mon|Tue|Wed|Thu|Fri|Sat) [A-Z][a-z]{2} [1-9]\d? \d\d:\d\d:\d\d UTC \d{4}$/),
      },
    });
    // The password itself never goes over the wire.
    expect(JSON.stringify(calls)).not.toContain('Correct-Horse-9!');
  });

  it('is refused with a wrong password, in plain words', async () => {
    const { api } = srpPool('Correct-Horse-9!');
    expect(await api.signIn('owner@example.com', 'Correct-Horse-8!')).toEqual({
      kind: 'failed',
      message: 'Wrong email or password.',
      error: 'NotAuthorizedException',
    });
  });

  it('talks to the endpoint it is given', async () => {
    const calls: string[] = [];
    const api = cognitoApi(auth, {
      endpoint: 'http://127.0.0.1:5000',
      fetch: async (url) => {
        calls.push(url);
        return new Response(JSON.stringify({ __type: 'UserNotFoundException' }), { status: 400 });
      },
    });
    expect(await api.signIn('o@example.com', 'pw')).toMatchObject({ kind: 'failed', message: 'Wrong email or password.' });
    expect(calls).toEqual(['http://127.0.0.1:5000']);
  });

  it('passes on the SRP session and asks for a new password after the temporary one, then signs in', async () => {
    const { calls, api } = passwordAccepted(
      { ChallengeName: 'NEW_PASSWORD_REQUIRED', Session: 's1', ChallengeParameters: { USERNAME: 'uid' } },
      () => [200, { AuthenticationResult: TOKENS }],
    );
    const first = await api.signIn('owner@example.com', 'temp');
    expect(calls[1]!.body.Session).toBe('srp-session');
    expect(first).toEqual({ kind: 'newPasswordRequired', challenge: { session: 's1', username: 'uid' } });
    const second = await api.setNewPassword({ session: 's1', username: 'uid' }, 'N3w-Password!x');
    expect(second).toMatchObject({ kind: 'signedIn', tokens: { idToken: 'id.token' } });
    expect(calls[2]!.body).toEqual({
      ChallengeName: 'NEW_PASSWORD_REQUIRED',
      ClientId: 'client1',
      Session: 's1',
      ChallengeResponses: { USERNAME: 'uid', NEW_PASSWORD: 'N3w-Password!x' },
    });
  });

  it('asks for the authenticator code when MFA is on, and sends it', async () => {
    const { calls, api } = passwordAccepted({ ChallengeName: 'SOFTWARE_TOKEN_MFA', Session: 's2', ChallengeParameters: {} }, () => [
      200,
      { AuthenticationResult: TOKENS },
    ]);
    const first = await api.signIn('o@example.com', 'pw');
    expect(first).toEqual({ kind: 'mfaRequired', challenge: { session: 's2', username: 'uid' } });
    await api.answerMfa({ session: 's2', username: 'uid' }, '123456');
    expect(calls[2]!.body).toMatchObject({
      ChallengeName: 'SOFTWARE_TOKEN_MFA',
      Session: 's2',
      ChallengeResponses: { USERNAME: 'uid', SOFTWARE_TOKEN_MFA_CODE: '123456' },
    });
  });

  it('enrols an authenticator during sign-in when the pool requires MFA', async () => {
    const { calls, api } = passwordAccepted(
      { ChallengeName: 'MFA_SETUP', Session: 's3', ChallengeParameters: { MFAS_CAN_SETUP: '["SOFTWARE_TOKEN_MFA"]' } },
      (target) =>
        target === 'AssociateSoftwareToken'
          ? [200, { SecretCode: 'JBSWY3DPEHPK3PXP', Session: 's4' }]
          : target === 'VerifySoftwareToken'
            ? [200, { Status: 'SUCCESS', Session: 's5' }]
            : [200, { AuthenticationResult: TOKENS }],
    );
    const first = await api.signIn('o@example.com', 'pw');
    expect(first).toEqual({ kind: 'mfaSetup', challenge: { session: 's4', username: 'uid' }, secret: 'JBSWY3DPEHPK3PXP' });
    expect(calls[2]).toMatchObject({ target: 'AssociateSoftwareToken', body: { Session: 's3' } });
    const done = await api.finishMfaSetup({ session: 's4', username: 'uid' }, '654321');
    expect(done.kind).toBe('signedIn');
    expect(calls.slice(3).map(({ target, body }) => [target, body])).toEqual([
      ['VerifySoftwareToken', { Session: 's4', UserCode: '654321' }],
      ['RespondToAuthChallenge', { ChallengeName: 'MFA_SETUP', ClientId: 'client1', Session: 's5', ChallengeResponses: { USERNAME: 'uid' } }],
    ]);
  });

  it.each([
    ['NotAuthorizedException', 'Wrong email or password.'],
    ['UserNotFoundException', 'Wrong email or password.'],
    ['com.amazonaws#PasswordResetRequiredException', 'This account needs a new password: use “Forgot password?” to choose one.'],
    ['SomethingNewException', 'Sign-in failed (SomethingNewException).'],
  ])('explains %s at sign-in in plain words', async (type, message) => {
    const { api } = cognito(() => [400, { __type: type, message: 'internal detail' }]);
    expect(await api.signIn('o@example.com', 'pw')).toMatchObject({ kind: 'failed', message });
  });

  it('says a challenge expired rather than that the password is wrong', async () => {
    const { api } = cognito(() => [400, { __type: 'NotAuthorizedException', message: 'Invalid session for the user.' }]);
    expect(await api.answerMfa({ session: 's', username: 'u' }, '123456')).toEqual({
      kind: 'failed',
      message: 'This sign-in attempt has expired. Sign in again.',
      error: 'NotAuthorizedException',
    });
  });

  it('says so when Cognito cannot be reached or asks for an unsupported step', async () => {
    const down = cognitoApi(auth, {
      fetch: async () => {
        throw new TypeError('network');
      },
    });
    expect(await down.signIn('o@example.com', 'pw')).toEqual({
      kind: 'failed',
      message: 'Could not reach the sign-in service.',
      error: 'NetworkError',
    });
    const { api } = passwordAccepted({ ChallengeName: 'SMS_MFA', Session: 's' });
    expect(await api.signIn('o@example.com', 'pw')).toMatchObject({
      kind: 'failed',
      message: 'Sign-in needs a step this page does not support (SMS_MFA).',
    });
  });
});

describe('password reset', () => {
  it('asks Cognito to email a code, and says the same whether or not the account exists', async () => {
    const known = cognito(() => [200, { CodeDeliveryDetails: { Destination: 'o***@e***', DeliveryMedium: 'EMAIL' } }]);
    expect(await known.api.forgotPassword('o@example.com')).toEqual({ kind: 'done' });
    expect(known.calls[0]).toMatchObject({ target: 'ForgotPassword', body: { ClientId: 'client1', Username: 'o@example.com' } });
    const unknown = cognito(() => [400, { __type: 'UserNotFoundException' }]);
    expect(await unknown.api.forgotPassword('nobody@example.com')).toEqual({ kind: 'done' });
  });

  it('sets the new password with the code', async () => {
    const { calls, api } = cognito(() => [200, {}]);
    expect(await api.confirmForgotPassword('o@example.com', '123456', 'N3w-Password!x')).toEqual({ kind: 'done' });
    expect(calls[0]).toMatchObject({
      target: 'ConfirmForgotPassword',
      body: { ClientId: 'client1', Username: 'o@example.com', ConfirmationCode: '123456', Password: 'N3w-Password!x' },
    });
  });

  it.each([
    ['CodeMismatchException', 'That code is not right. Use the code from the latest email.'],
    ['UserNotFoundException', 'That code is not right. Use the code from the latest email.'],
    ['ExpiredCodeException', 'That code has expired. Ask for a new one.'],
    ['InvalidPasswordException', 'That password is too weak: use 12+ characters with upper and lower case, a digit and a symbol.'],
    ['LimitExceededException', 'Too many attempts. Wait a while and try again.'],
  ])('explains %s when confirming', async (type, message) => {
    const { api } = cognito(() => [400, { __type: type }]);
    expect(await api.confirmForgotPassword('o@example.com', '1', 'pw')).toEqual({ kind: 'failed', message, error: type });
  });
});

describe('session calls', () => {
  it('refreshes with REFRESH_TOKEN_AUTH and keeps the refresh token unless Cognito rotates it', async () => {
    const { calls, api } = cognito(() => [200, { AuthenticationResult: { IdToken: 'id2', AccessToken: 'acc2', ExpiresIn: 600 } }]);
    const before = Date.now();
    const tokens = await api.refresh('refresh.token');
    expect(tokens).toMatchObject({ idToken: 'id2', accessToken: 'acc2', refreshToken: 'refresh.token' });
    expect(tokens.expiresAt).toBeGreaterThanOrEqual(before + 600_000);
    expect(calls[0]).toMatchObject({
      target: 'InitiateAuth',
      body: { AuthFlow: 'REFRESH_TOKEN_AUTH', ClientId: 'client1', AuthParameters: { REFRESH_TOKEN: 'refresh.token' } },
    });
    const rotating = cognito(() => [200, { AuthenticationResult: { ...TOKENS, RefreshToken: 'rotated' } }]);
    expect((await rotating.api.refresh('refresh.token')).refreshToken).toBe('rotated');
  });

  it('throws a CognitoError with the type and a message for the user', async () => {
    const { api } = cognito(() => [400, { __type: 'NotAuthorizedException', message: 'Refresh Token has been revoked' }]);
    const error = await api.refresh('revoked').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CognitoError);
    expect(error).toMatchObject({ type: 'NotAuthorizedException', message: 'Your session has ended. Sign in again.' });
  });

  it('reads, enrols and changes TOTP MFA with the access token', async () => {
    const { calls, api } = cognito((target) => {
      if (target === 'GetUser') return [200, { Username: 'u', UserMFASettingList: ['SOFTWARE_TOKEN_MFA'] }];
      if (target === 'AssociateSoftwareToken') return [200, { SecretCode: 'SECRET' }];
      if (target === 'VerifySoftwareToken') return [200, { Status: 'SUCCESS' }];
      return [200, undefined];
    });
    expect(await api.totpMfaEnabled('acc')).toBe(true);
    expect(await api.associateSoftwareToken('acc')).toBe('SECRET');
    await api.verifySoftwareToken('acc', '123456');
    await api.setTotpMfa('acc', true);
    await api.setTotpMfa('acc', false);
    await api.globalSignOut('acc');
    expect(calls.map(({ target, body }) => [target, body])).toEqual([
      ['GetUser', { AccessToken: 'acc' }],
      ['AssociateSoftwareToken', { AccessToken: 'acc' }],
      ['VerifySoftwareToken', { AccessToken: 'acc', UserCode: '123456' }],
      ['SetUserMFAPreference', { AccessToken: 'acc', SoftwareTokenMfaSettings: { Enabled: true, PreferredMfa: true } }],
      ['SetUserMFAPreference', { AccessToken: 'acc', SoftwareTokenMfaSettings: { Enabled: false, PreferredMfa: false } }],
      ['GlobalSignOut', { AccessToken: 'acc' }],
    ]);
  });

  it('reports MFA off when the user has no TOTP setting, and a wrong first code', async () => {
    const { api } = cognito((target) =>
      target === 'GetUser'
        ? [200, { Username: 'u' }]
        : [400, { __type: 'EnableSoftwareTokenMFAException', message: 'Code mismatch and fail enable Software Token MFA' }],
    );
    expect(await api.totpMfaEnabled('acc')).toBe(false);
    await expect(api.verifySoftwareToken('acc', '000000')).rejects.toMatchObject({
      type: 'EnableSoftwareTokenMFAException',
      message: 'That code is not right. Try the current one from your authenticator app.',
    });
  });
});
