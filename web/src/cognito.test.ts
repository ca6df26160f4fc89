import { describe, expect, it } from 'vitest';
import { answerMfa, setNewPassword, signIn } from './cognito';
import type { CognitoAuth } from './runtimeConfig';

const auth: CognitoAuth = { kind: 'cognito', region: 'eu-west-1', userPoolId: 'eu-west-1_AbC123', userPoolClientId: 'client1' };

function cognito(status: number, body: unknown) {
  const calls: Array<{ url: string; target: string; body: any }> = [];
  const fetchImpl = async (url: string, init: RequestInit) => {
    const headers = init.headers as Record<string, string>;
    expect(headers['Content-Type']).toBe('application/x-amz-json-1.1');
    calls.push({ url, target: headers['X-Amz-Target']!, body: JSON.parse(String(init.body)) });
    return new Response(JSON.stringify(body), { status });
  };
  return { calls, fetchImpl };
}

describe('Cognito sign-in', () => {
  it('signs in with email and password and returns the ID token with its expiry', async () => {
    const { calls, fetchImpl } = cognito(200, { AuthenticationResult: { IdToken: 'id.token.x', ExpiresIn: 3600 } });
    const before = Date.now();
    const step = await signIn(auth, 'owner@example.com', 'pw', fetchImpl);
    expect(step).toMatchObject({ kind: 'signedIn', idToken: 'id.token.x' });
    expect(step.kind === 'signedIn' && step.expiresAt).toBeGreaterThanOrEqual(before + 3_600_000);
    expect(calls).toEqual([
      {
        url: 'https://cognito-idp.eu-west-1.amazonaws.com/',
        target: 'AWSCognitoIdentityProviderService.InitiateAuth',
        body: { AuthFlow: 'USER_PASSWORD_AUTH', ClientId: 'client1', AuthParameters: { USERNAME: 'owner@example.com', PASSWORD: 'pw' } },
      },
    ]);
  });

  it('asks for a new password after the temporary one, then signs in', async () => {
    const first = cognito(200, { ChallengeName: 'NEW_PASSWORD_REQUIRED', Session: 's1' });
    expect(await signIn(auth, 'owner@example.com', 'temp', first.fetchImpl)).toEqual({ kind: 'newPasswordRequired', session: 's1' });
    const second = cognito(200, { AuthenticationResult: { IdToken: 'id2', ExpiresIn: 60 } });
    expect(await setNewPassword(auth, 'owner@example.com', 's1', 'N3w-Password!x', second.fetchImpl)).toMatchObject({
      kind: 'signedIn',
      idToken: 'id2',
    });
    expect(second.calls[0]!.body).toEqual({
      ChallengeName: 'NEW_PASSWORD_REQUIRED',
      ClientId: 'client1',
      Session: 's1',
      ChallengeResponses: { USERNAME: 'owner@example.com', NEW_PASSWORD: 'N3w-Password!x' },
    });
  });

  it('asks for the authenticator code when MFA is on', async () => {
    const first = cognito(200, { ChallengeName: 'SOFTWARE_TOKEN_MFA', Session: 's2' });
    expect(await signIn(auth, 'o@example.com', 'pw', first.fetchImpl)).toEqual({ kind: 'mfaRequired', session: 's2' });
    const second = cognito(200, { AuthenticationResult: { IdToken: 'id3', ExpiresIn: 60 } });
    await answerMfa(auth, 'o@example.com', 's2', '123456', second.fetchImpl);
    expect(second.calls[0]!.body.ChallengeResponses).toEqual({ USERNAME: 'o@example.com', SOFTWARE_TOKEN_MFA_CODE: '123456' });
  });

  it.each([
    ['NotAuthorizedException', 'Wrong email or password.'],
    ['com.amazonaws#CodeMismatchException', 'That code is not right. Try the current one from your authenticator app.'],
    ['InvalidPasswordException', 'That password is too weak: use 12+ characters with upper and lower case, a digit and a symbol.'],
    ['SomethingNewException', 'Sign-in failed (SomethingNewException).'],
  ])('explains %s in plain words', async (type, message) => {
    const { fetchImpl } = cognito(400, { __type: type, message: 'internal detail' });
    expect(await signIn(auth, 'o@example.com', 'pw', fetchImpl)).toEqual({ kind: 'failed', message });
  });

  it('says so when Cognito cannot be reached or asks for an unsupported step', async () => {
    const down = async () => {
      throw new TypeError('network');
    };
    expect(await signIn(auth, 'o@example.com', 'pw', down)).toEqual({ kind: 'failed', message: 'Could not reach the sign-in service.' });
    const { fetchImpl } = cognito(200, { ChallengeName: 'SMS_MFA', Session: 's' });
    expect(await signIn(auth, 'o@example.com', 'pw', fetchImpl)).toEqual({
      kind: 'failed',
      message: 'Sign-in needs a step this page does not support (SMS_MFA).',
    });
  });
});
