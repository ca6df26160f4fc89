// The deployment's Cognito user pool (config.json `auth.kind: "cognito"`), through the maintained client
// library amazon-cognito-identity-js. This module turns its callbacks into promises, the answers into the
// steps the sign-in form shows, and its errors into the page's messages (errors.ts).
//
// Sign-in is SRP (the password itself is never sent), then whichever challenge the pool asks for: a new
// password after the temporary one, the authenticator-app code, or enrolling an authenticator app when
// the pool requires MFA. The library keeps the three tokens in the storage it is given (the tab's
// sessionStorage): the ID token is what ws-connect and the HTTP API's JWT authorizer accept, the access
// token authorises the user's own MFA settings, the refresh token renews both. The endpoint is a
// parameter so tests can point it at moto.
//
// Sign-in and password-reset calls answer with a step for the form to show; calls made with a session's
// tokens throw a CognitoError, whose message is for the user and whose type says what happened.

import {
  AuthenticationDetails,
  CognitoUser,
  CognitoUserPool,
  type CognitoUserSession,
  type IAuthenticationCallback,
  type ICognitoStorage,
} from 'amazon-cognito-identity-js';
import type { CognitoAuth } from '../runtimeConfig';
import { errorMessage, type ErrorContext } from './errors';

export interface CognitoOptions {
  /** Cognito's API; the region's public endpoint unless given (tests give moto's). */
  endpoint?: string;
  /** Where the tokens are kept; the tab's sessionStorage unless given (tests in Node give their own). */
  storage?: ICognitoStorage;
}

export interface Tokens {
  idToken: string;
  accessToken: string;
  refreshToken: string;
  /** When the ID or access token expires, whichever is first (epoch ms, by this page's clock). */
  expiresAt: number;
}

/** An unanswered challenge: the library's user object holds Cognito's session for it. */
export interface Challenge {
  readonly user: CognitoUser;
}

export type SignInStep =
  | { kind: 'signedIn'; account: CognitoAccount }
  | { kind: 'newPasswordRequired'; challenge: Challenge }
  | { kind: 'mfaRequired'; challenge: Challenge }
  /** The pool requires MFA and the user has none yet: `secret` is the new authenticator key. */
  | { kind: 'mfaSetup'; challenge: Challenge; secret: string }
  /** `error` is Cognito's error type (or NetworkError): the form decides from it whether to start over. */
  | { kind: 'failed'; message: string; error: string };

export type ResetStep = { kind: 'done' } | { kind: 'failed'; message: string; error: string };

/** A failed call made with a session's tokens. */
export class CognitoError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
    this.name = 'CognitoError';
  }
}

/** A signed-in user: their tokens and the calls made with them. */
export interface CognitoAccount {
  /** The email the user signs in with (the pool's user name if the ID token has no email). */
  readonly userName: string;
  tokens(): Tokens;
  /** New ID and access tokens; the refresh token stays unless Cognito rotates it. */
  refresh(): Promise<Tokens>;
  /** Whether the user has TOTP MFA turned on. */
  totpMfaEnabled(): Promise<boolean>;
  /** A new authenticator key (base32) for the user; not in use until verified. */
  associateSoftwareToken(): Promise<string>;
  verifySoftwareToken(code: string): Promise<void>;
  /** Turns TOTP MFA on (and makes it the preferred factor) or off. */
  setTotpMfa(enabled: boolean): Promise<void>;
  /** Revokes every refresh token of the user (all devices). */
  globalSignOut(): Promise<void>;
  /** Removes the tokens from storage. */
  forget(): void;
}

export interface CognitoApi {
  /** Email and password, by SRP. */
  signIn(email: string, password: string): Promise<SignInStep>;
  setNewPassword(challenge: Challenge, newPassword: string): Promise<SignInStep>;
  answerMfa(challenge: Challenge, code: string): Promise<SignInStep>;
  /** Verifies the first code of the authenticator enrolled during sign-in, then finishes signing in. */
  finishMfaSetup(challenge: Challenge, code: string): Promise<SignInStep>;
  /** Emails a reset code. An unknown email answers `done` too, so the page does not tell who has an account. */
  forgotPassword(email: string): Promise<ResetStep>;
  confirmForgotPassword(email: string, code: string, newPassword: string): Promise<ResetStep>;
  /**
   * The account whose tokens storage holds, if any; tokens that have expired are renewed first (a
   * refused renewal rejects with a CognitoError and forgets them).
   */
  restore(): Promise<CognitoAccount | null>;
}

/** The name Cognito keeps for an enrolled authenticator app. */
const AUTHENTICATOR_NAME = 'Authenticator app';

/** Cognito's error type of a failure the library reported: its `code` (NetworkError when nothing answered). */
export function errorType(error: unknown): string {
  if (error instanceof CognitoError) return error.type;
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  // The library's own refusals (an answer it cannot read, tokens it holds as expired) carry no code.
  return typeof code === 'string' && code !== '' ? code : 'InvalidResponse';
}

function sessionError(error: unknown): CognitoError {
  const type = errorType(error);
  return new CognitoError(type, errorMessage(type, 'session'));
}

function failed(error: unknown, context: ErrorContext): { kind: 'failed'; message: string; error: string } {
  const type = errorType(error);
  return { kind: 'failed', message: errorMessage(type, context), error: type };
}

/** A library call that answers through a node-style callback, as a promise of a CognitoError or the result. */
function call<T>(start: (callback: (error: unknown, result?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    start((error, result) => (error ? reject(sessionError(error)) : resolve(result as T)));
  });
}

/** The library's session; getClockDrift is public in its source but missing from its type declarations. */
type LibrarySession = CognitoUserSession & { getClockDrift(): number };

function tokensOf(session: CognitoUserSession): Tokens {
  const id = session.getIdToken();
  const access = session.getAccessToken();
  // The library measures the offset between this page's clock and Cognito's when it gets the tokens.
  const expiresAt = (Math.min(id.getExpiration(), access.getExpiration()) + (session as LibrarySession).getClockDrift()) * 1000;
  return {
    idToken: id.getJwtToken(),
    accessToken: access.getJwtToken(),
    refreshToken: session.getRefreshToken().getToken(),
    expiresAt,
  };
}

function account(user: CognitoUser, session: CognitoUserSession): CognitoAccount {
  const email: unknown = session.getIdToken().payload.email;
  let current = session;
  return {
    userName: typeof email === 'string' && email !== '' ? email : user.getUsername(),
    tokens: () => tokensOf(current),
    async refresh() {
      current = await call<CognitoUserSession>((done) => user.refreshSession(current.getRefreshToken(), done));
      return tokensOf(current);
    },
    async totpMfaEnabled() {
      // The library keeps GetUser's answer in storage and, told to bypass that copy, renews the tokens
      // too: dropping the copy makes it ask Cognito (a change made elsewhere shows) and nothing else.
      (user as CognitoUser & { clearCachedUserData(): void }).clearCachedUserData();
      const data = await call<{ UserMFASettingList?: string[] }>((done) => user.getUserData(done));
      return data.UserMFASettingList?.includes('SOFTWARE_TOKEN_MFA') ?? false;
    },
    associateSoftwareToken: () =>
      call<string>((done) =>
        user.associateSoftwareToken({
          associateSecretCode: (secret) => (secret ? done(null, secret) : done({ code: 'NoSecret' })),
          onFailure: done,
        }),
      ),
    async verifySoftwareToken(code) {
      // With an access token the library hands back VerifySoftwareToken's answer, not a session.
      const answer = await call<unknown>((done) =>
        user.verifySoftwareToken(code, AUTHENTICATOR_NAME, { onSuccess: (result) => done(null, result), onFailure: done }),
      );
      if ((answer as { Status?: unknown }).Status !== 'SUCCESS') throw sessionError({ code: 'CodeMismatchException' });
    },
    async setTotpMfa(enabled) {
      await call((done) => user.setUserMfaPreference(null, { Enabled: enabled, PreferredMfa: enabled }, done));
    },
    async globalSignOut() {
      await call((done) => user.globalSignOut({ onSuccess: (result) => done(null, result), onFailure: done }));
    },
    forget: () => user.signOut(),
  };
}

export function cognitoApi(auth: CognitoAuth, options: CognitoOptions = {}): CognitoApi {
  const storage = options.storage ?? window.sessionStorage;
  const pool = new CognitoUserPool({
    UserPoolId: auth.userPoolId,
    ClientId: auth.userPoolClientId,
    Storage: storage,
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
  });

  /** Runs one step of the sign-in; `context` says which messages a failure gets. */
  function step(context: ErrorContext, user: CognitoUser, start: (callbacks: IAuthenticationCallback) => void): Promise<SignInStep> {
    return new Promise((resolve) => {
      const challenge = { user };
      const unsupported = (name: string) =>
        resolve({
          kind: 'failed',
          message: `Sign-in needs a step this page does not support (${name}).`,
          error: 'UnsupportedChallenge',
        });
      start({
        onSuccess: (session) => resolve({ kind: 'signedIn', account: account(user, session) }),
        onFailure: (error) => resolve(failed(error, context)),
        newPasswordRequired: () => resolve({ kind: 'newPasswordRequired', challenge }),
        totpRequired: () => resolve({ kind: 'mfaRequired', challenge }),
        mfaSetup: () =>
          user.associateSoftwareToken({
            associateSecretCode: (secret) => resolve({ kind: 'mfaSetup', challenge, secret }),
            onFailure: (error) => resolve(failed(error, 'challenge')),
          }),
        mfaRequired: (name) => unsupported(name),
        selectMFAType: (name) => unsupported(name),
        customChallenge: () => unsupported('CUSTOM_CHALLENGE'),
      });
    });
  }

  const userNamed = (name: string) => new CognitoUser({ Username: name, Pool: pool, Storage: storage });

  function reset(email: string, start: (user: CognitoUser, done: (error: unknown) => void) => void): Promise<ResetStep> {
    return new Promise((resolve) => start(userNamed(email), (error) => resolve(error ? failed(error, 'reset') : { kind: 'done' })));
  }

  return {
    signIn(email, password) {
      const user = userNamed(email);
      const details = new AuthenticationDetails({ Username: email, Password: password });
      // A wrong password is refused as NotAuthorizedException: a sign-in error, not a challenge one.
      return step('signIn', user, (callbacks) => user.authenticateUser(details, callbacks));
    },

    setNewPassword: ({ user }, newPassword) =>
      step('challenge', user, (callbacks) => user.completeNewPasswordChallenge(newPassword, {}, callbacks)),

    answerMfa: ({ user }, code) => step('challenge', user, (callbacks) => user.sendMFACode(code, callbacks, 'SOFTWARE_TOKEN_MFA')),

    finishMfaSetup: ({ user }, code) =>
      step('challenge', user, (callbacks) => user.verifySoftwareToken(code, AUTHENTICATOR_NAME, callbacks)),

    forgotPassword: async (email) => {
      const answer = await reset(email, (user, done) => user.forgotPassword({ onSuccess: () => done(null), onFailure: done }));
      return answer.kind === 'failed' && answer.error === 'UserNotFoundException' ? { kind: 'done' } : answer;
    },

    confirmForgotPassword: (email, code, newPassword) =>
      reset(email, (user, done) => user.confirmPassword(code, newPassword, { onSuccess: () => done(null), onFailure: done })),

    async restore() {
      const user = pool.getCurrentUser();
      if (user === null) return null;
      const session = await call<CognitoUserSession | null>((done) => user.getSession(done));
      return session === null ? null : account(user, session);
    },
  };
}
