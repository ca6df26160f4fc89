// The renewal timing, single flight and session end of CognitoSession, on fake timers over a fake account
// (the library's calls are covered against moto by cognito.moto.test.ts).

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CognitoError, type CognitoAccount, type Tokens } from './cognito';
import { CognitoSession, REFRESH_MARGIN_MS, RETRY_MS, SIGNED_OUT } from './cognitoSession';
import { NETWORK_ERROR, SESSION_ENDED } from './errors';

const MINUTE = 60_000;

function tokens(n: number, lifetime: number = 60 * MINUTE): Tokens {
  return { idToken: `id${n}`, accessToken: `access${n}`, refreshToken: 'refresh', expiresAt: Date.now() + lifetime };
}

const refused = () => new CognitoError('NotAuthorizedException', SESSION_ENDED);
const offline = () => new CognitoError(NETWORK_ERROR, 'Could not reach the sign-in service.');

/** A session over a fake account whose refresh hands out id1, id2, ... unless told otherwise. */
function session(lifetime: number = 60 * MINUTE) {
  let issued = 0;
  let current = tokens(0, lifetime);
  const api = {
    userName: 'owner@example.com',
    tokens: () => current,
    refresh: vi.fn(() => Promise.resolve((current = tokens(++issued)))),
    totpMfaEnabled: vi.fn(() => Promise.resolve(false)),
    associateSoftwareToken: vi.fn(() => Promise.resolve('JBSWY3DPEHPK3PXP')),
    verifySoftwareToken: vi.fn((_code: string) => Promise.resolve()),
    setTotpMfa: vi.fn((_enabled: boolean) => Promise.resolve()),
    globalSignOut: vi.fn(() => Promise.resolve()),
    forget: vi.fn(),
  } satisfies CognitoAccount;
  const renewed: Tokens[] = [];
  const ended: string[] = [];
  const keeper = new CognitoSession({
    account: api,
    onRenewed: (next) => renewed.push(next),
    onEnded: (notice) => ended.push(notice),
  });
  return { api, keeper, renewed, ended };
}

describe('a signed-in Cognito session', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('renews the tokens 5 minutes before they expire, and again before the new ones do', async () => {
    const { api, keeper, renewed } = session(60 * MINUTE);
    keeper.start();
    await vi.advanceTimersByTimeAsync(55 * MINUTE - 1_000);
    expect(api.refresh).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(api.refresh).toHaveBeenCalledTimes(1);
    expect(renewed.map((t) => t.idToken)).toEqual(['id1']);
    expect(await keeper.freshToken()).toBe('id1');
    await vi.advanceTimersByTimeAsync(55 * MINUTE);
    expect(renewed.map((t) => t.idToken)).toEqual(['id1', 'id2']);
    keeper.stop();
  });

  it('hands out the current token while it has more than 5 minutes left', async () => {
    const { api, keeper } = session(REFRESH_MARGIN_MS + MINUTE);
    expect(await keeper.freshToken()).toBe('id0');
    expect(api.refresh).not.toHaveBeenCalled();
  });

  it('renews first when the token is about to expire, once for all the callers at the same time', async () => {
    const { api, keeper, renewed } = session(REFRESH_MARGIN_MS - MINUTE);
    keeper.start();
    const tokensSeen = await Promise.all([keeper.freshToken(), keeper.freshToken(), keeper.freshToken()]);
    await vi.advanceTimersByTimeAsync(0);
    expect(tokensSeen).toEqual(['id1', 'id1', 'id1']);
    expect(api.refresh).toHaveBeenCalledTimes(1);
    expect(renewed).toHaveLength(1);
    keeper.stop();
  });

  it('ends the session and forgets its tokens when Cognito refuses the renewal', async () => {
    const { api, keeper, ended } = session(10 * MINUTE);
    api.refresh.mockRejectedValue(refused());
    keeper.start();
    await vi.advanceTimersByTimeAsync(5 * MINUTE);
    expect(ended).toEqual([SESSION_ENDED]);
    expect(api.forget).toHaveBeenCalledTimes(1);
    await expect(keeper.freshToken()).rejects.toThrow(SESSION_ENDED);
    await vi.advanceTimersByTimeAsync(60 * MINUTE);
    expect(api.refresh).toHaveBeenCalledTimes(1);
  });

  it('rejects a caller whose renewal is refused', async () => {
    const { api, keeper, ended } = session(MINUTE);
    api.refresh.mockRejectedValue(refused());
    await expect(keeper.freshToken()).rejects.toMatchObject({ type: 'NotAuthorizedException' });
    expect(ended).toEqual([SESSION_ENDED]);
  });

  it('keeps the still-valid token when Cognito cannot be reached, and tries again', async () => {
    const { api, keeper, ended } = session(4 * MINUTE);
    api.refresh.mockRejectedValueOnce(offline());
    keeper.start();
    expect(await keeper.freshToken()).toBe('id0');
    expect(api.refresh).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(RETRY_MS);
    expect(api.refresh).toHaveBeenCalledTimes(2);
    expect(await keeper.freshToken()).toBe('id1');
    expect(ended).toEqual([]);
    expect(api.forget).not.toHaveBeenCalled();
    keeper.stop();
  });

  it('rejects without ending the session when offline and the token has expired', async () => {
    const { api, keeper, ended } = session(-MINUTE);
    api.refresh.mockRejectedValueOnce(offline());
    await expect(keeper.freshToken()).rejects.toMatchObject({ type: NETWORK_ERROR });
    expect(ended).toEqual([]);
    expect(await keeper.freshToken()).toBe('id1');
  });

  it('does not renew on a timer while stopped', async () => {
    const { api, keeper } = session(10 * MINUTE);
    keeper.start();
    keeper.stop();
    await vi.advanceTimersByTimeAsync(60 * MINUTE);
    expect(api.refresh).not.toHaveBeenCalled();
  });

  it('ends the session when the server refuses the token', () => {
    const { keeper, ended } = session();
    keeper.start();
    keeper.refused();
    keeper.refused();
    expect(ended).toEqual([SESSION_ENDED]);
  });

  it('signs out at Cognito with the access token and forgets the session even if that call fails', async () => {
    const { api, keeper, ended } = session();
    api.globalSignOut.mockRejectedValue(offline());
    keeper.start();
    keeper.signOut();
    expect(api.globalSignOut).toHaveBeenCalledTimes(1);
    // The call left before the tokens were forgotten.
    expect(api.globalSignOut.mock.invocationCallOrder[0]).toBeLessThan(api.forget.mock.invocationCallOrder[0]!);
    expect(ended).toEqual([SIGNED_OUT]);
    await vi.advanceTimersByTimeAsync(120 * MINUTE);
    expect(api.refresh).not.toHaveBeenCalled();
  });

  it('enrols TOTP MFA: the key as an otpauth URI, then the first code turns it on', async () => {
    const { api, keeper } = session();
    expect(await keeper.mfa.enabled()).toBe(false);
    expect(await keeper.mfa.beginEnrolment()).toEqual({
      secret: 'JBSWY3DPEHPK3PXP',
      otpauthUri: 'otpauth://totp/serverless-openclaw:owner%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=serverless-openclaw',
    });
    await keeper.mfa.confirmEnrolment('123456');
    expect(api.verifySoftwareToken).toHaveBeenCalledWith('123456');
    expect(api.setTotpMfa).toHaveBeenCalledWith(true);
    await keeper.mfa.disable();
    expect(api.setTotpMfa).toHaveBeenLastCalledWith(false);
  });

  it('does not turn MFA on when the first code is wrong', async () => {
    const { api, keeper, ended } = session();
    api.verifySoftwareToken.mockRejectedValue(new CognitoError('EnableSoftwareTokenMFAException', 'That code is not right.'));
    await expect(keeper.mfa.confirmEnrolment('000000')).rejects.toThrow('That code is not right.');
    expect(api.setTotpMfa).not.toHaveBeenCalled();
    expect(ended).toEqual([]);
  });

  it('uses a renewed access token for MFA calls, and ends the session if it is refused', async () => {
    const { api, keeper, ended } = session(MINUTE);
    api.totpMfaEnabled.mockImplementation(() => {
      expect(api.tokens().accessToken).toBe('access1');
      return Promise.reject(refused());
    });
    await expect(keeper.mfa.enabled()).rejects.toThrow(SESSION_ENDED);
    expect(api.totpMfaEnabled).toHaveBeenCalledTimes(1);
    expect(ended).toEqual([SESSION_ENDED]);
  });
});
