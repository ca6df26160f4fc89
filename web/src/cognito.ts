// Sign-in with the deployment's Cognito user pool (config.json `auth.kind: "cognito"`), straight against
// Cognito's public JSON API: email + password, the new-password step of a first sign-in with the
// temporary password, and the authenticator-app (TOTP) code when MFA is on. The result is the ID token
// that ws-connect and the HTTP API's JWT authorizer accept.

import type { CognitoAuth } from './runtimeConfig';

export type SignInStep =
  | { kind: 'signedIn'; idToken: string; expiresAt: number }
  | { kind: 'newPasswordRequired'; session: string }
  | { kind: 'mfaRequired'; session: string }
  | { kind: 'failed'; message: string };

type Fetch = (input: string, init: RequestInit) => Promise<Response>;

/** What Cognito's errors mean to the person signing in. */
const ERROR_MESSAGES: Record<string, string> = {
  NotAuthorizedException: 'Wrong email or password.',
  UserNotFoundException: 'Wrong email or password.',
  PasswordResetRequiredException: 'A password reset is required for this account.',
  UserNotConfirmedException: 'This account is not confirmed yet.',
  InvalidPasswordException: 'That password is too weak: use 12+ characters with upper and lower case, a digit and a symbol.',
  CodeMismatchException: 'That code is not right. Try the current one from your authenticator app.',
  ExpiredCodeException: 'That code has expired. Try the current one.',
  TooManyRequestsException: 'Too many attempts. Wait a minute and try again.',
  LimitExceededException: 'Too many attempts. Wait a while and try again.',
};

async function call(auth: CognitoAuth, target: string, body: unknown, fetchImpl: Fetch): Promise<SignInStep> {
  let response: Response;
  try {
    response = await fetchImpl(`https://cognito-idp.${auth.region}.amazonaws.com/`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-amz-json-1.1',
        'X-Amz-Target': `AWSCognitoIdentityProviderService.${target}`,
      },
      body: JSON.stringify(body),
    });
  } catch {
    return { kind: 'failed', message: 'Could not reach the sign-in service.' };
  }
  const payload = (await response.json().catch(() => null)) as Record<string, any> | null;
  if (!response.ok) {
    const type = String(payload?.__type ?? '').split('#').pop() ?? '';
    return { kind: 'failed', message: ERROR_MESSAGES[type] ?? `Sign-in failed (${type || `HTTP ${response.status}`}).` };
  }
  const result = payload?.AuthenticationResult;
  if (typeof result?.IdToken === 'string') {
    const seconds = typeof result.ExpiresIn === 'number' ? result.ExpiresIn : 3600;
    return { kind: 'signedIn', idToken: result.IdToken, expiresAt: Date.now() + seconds * 1000 };
  }
  const session = typeof payload?.Session === 'string' ? payload.Session : '';
  if (payload?.ChallengeName === 'NEW_PASSWORD_REQUIRED' && session !== '') return { kind: 'newPasswordRequired', session };
  if (payload?.ChallengeName === 'SOFTWARE_TOKEN_MFA' && session !== '') return { kind: 'mfaRequired', session };
  return { kind: 'failed', message: `Sign-in needs a step this page does not support (${payload?.ChallengeName ?? 'unknown'}).` };
}

export function signIn(auth: CognitoAuth, email: string, password: string, fetchImpl: Fetch = fetch): Promise<SignInStep> {
  return call(
    auth,
    'InitiateAuth',
    { AuthFlow: 'USER_PASSWORD_AUTH', ClientId: auth.userPoolClientId, AuthParameters: { USERNAME: email, PASSWORD: password } },
    fetchImpl,
  );
}

export function setNewPassword(
  auth: CognitoAuth,
  email: string,
  session: string,
  newPassword: string,
  fetchImpl: Fetch = fetch,
): Promise<SignInStep> {
  return call(
    auth,
    'RespondToAuthChallenge',
    {
      ChallengeName: 'NEW_PASSWORD_REQUIRED',
      ClientId: auth.userPoolClientId,
      Session: session,
      ChallengeResponses: { USERNAME: email, NEW_PASSWORD: newPassword },
    },
    fetchImpl,
  );
}

export function answerMfa(auth: CognitoAuth, email: string, session: string, code: string, fetchImpl: Fetch = fetch): Promise<SignInStep> {
  return call(
    auth,
    'RespondToAuthChallenge',
    {
      ChallengeName: 'SOFTWARE_TOKEN_MFA',
      ClientId: auth.userPoolClientId,
      Session: session,
      ChallengeResponses: { USERNAME: email, SOFTWARE_TOKEN_MFA_CODE: code },
    },
    fetchImpl,
  );
}
