// The deployment's Cognito user pool (config.json `auth.kind: "cognito"`), spoken to directly: a JSON
// POST with `X-Amz-Target` per call, no SDK, no credentials (every call here is one Cognito lets an
// unauthenticated page make, or one authorised by the user's own access token).
//
// Sign-in is SRP (`USER_SRP_AUTH`, see srp.ts), then whichever challenge the pool asks for: a new
// password after the temporary one, the authenticator-app code, or enrolling an authenticator app when
// the pool requires MFA. The page keeps the three tokens: the ID token is what ws-connect and the HTTP
// API's JWT authorizer accept, the access token authorises the user's own MFA settings, the refresh
// token renews both (`REFRESH_TOKEN_AUTH`). The endpoint is a parameter so tests can point it at moto.
//
// Sign-in and password-reset calls answer with a step for the form to show; calls made with a session's
// tokens throw a CognitoError, whose message is for the user and whose type says what happened.

import type { CognitoAuth } from '../runtimeConfig';
import { errorMessage, NETWORK_ERROR, type ErrorContext } from './errors';
import { cognitoTimestamp, passwordAuthenticationKey, passwordClaimSignature, srpKeyPair } from './srp';

export type Fetch = (input: string, init: RequestInit) => Promise<Response>;

export interface CognitoOptions {
  /** Cognito's API; the region's public endpoint unless given (tests give moto's). */
  endpoint?: string;
  fetch?: Fetch;
}

/** Cognito's public endpoint in `region`. */
export function defaultEndpoint(region: string): string {
  return `https://cognito-idp.${region}.amazonaws.com/`;
}

export interface Tokens {
  idToken: string;
  accessToken: string;
  refreshToken: string;
  /** When the ID and access tokens expire (epoch ms, by this page's clock). */
  expiresAt: number;
}

/** An unanswered challenge: Cognito's session for it and the user name to answer it for. */
export interface Challenge {
  session: string;
  username: string;
}

export type SignInStep =
  | { kind: 'signedIn'; tokens: Tokens }
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

export interface CognitoApi {
  /** Email and password, by SRP: the password itself is never sent. */
  signIn(email: string, password: string): Promise<SignInStep>;
  setNewPassword(challenge: Challenge, newPassword: string): Promise<SignInStep>;
  answerMfa(challenge: Challenge, code: string): Promise<SignInStep>;
  /** Verifies the first code of the authenticator enrolled during sign-in, then finishes signing in. */
  finishMfaSetup(challenge: Challenge, code: string): Promise<SignInStep>;
  /** Emails a reset code. An unknown email answers `done` too, so the page does not tell who has an account. */
  forgotPassword(email: string): Promise<ResetStep>;
  confirmForgotPassword(email: string, code: string, newPassword: string): Promise<ResetStep>;
  /** New ID and access tokens; the refresh token stays unless Cognito rotates it. */
  refresh(refreshToken: string): Promise<Tokens>;
  /** Whether the user has TOTP MFA turned on. */
  totpMfaEnabled(accessToken: string): Promise<boolean>;
  /** A new authenticator key (base32) for the user; not in use until verified. */
  associateSoftwareToken(accessToken: string): Promise<string>;
  verifySoftwareToken(accessToken: string, code: string): Promise<void>;
  /** Turns TOTP MFA on (and makes it the preferred factor) or off. */
  setTotpMfa(accessToken: string, enabled: boolean): Promise<void>;
  /** Revokes every refresh token of the user (all devices). */
  globalSignOut(accessToken: string): Promise<void>;
}

type Body = Record<string, unknown>;
type Answer = { ok: true; body: Body } | { ok: false; type: string };

function record(value: unknown): Body {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Body) : {};
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function failed(type: string, context: ErrorContext): { kind: 'failed'; message: string; error: string } {
  return { kind: 'failed', message: errorMessage(type, context), error: type };
}

export function cognitoApi(auth: CognitoAuth, options: CognitoOptions = {}): CognitoApi {
  const endpoint = options.endpoint ?? defaultEndpoint(auth.region);
  const fetchImpl: Fetch = options.fetch ?? ((input, init) => fetch(input, init));
  const clientId = auth.userPoolClientId;
  // SRP signs with the pool's name: its id without the region.
  const poolName = auth.userPoolId.slice(auth.userPoolId.indexOf('_') + 1);

  async function call(target: string, body: Body): Promise<Answer> {
    let response: Response;
    try {
      response = await fetchImpl(endpoint, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/x-amz-json-1.1',
          'X-Amz-Target': `AWSCognitoIdentityProviderService.${target}`,
        },
        body: JSON.stringify(body),
      });
    } catch {
      return { ok: false, type: NETWORK_ERROR };
    }
    // Some calls answer with an empty body.
    const payload = record(await response.json().catch(() => null));
    if (response.ok) return { ok: true, body: payload };
    const type = text(payload.__type).split('#').pop() ?? '';
    return { ok: false, type: type === '' ? `HTTP ${response.status}` : type };
  }

  async function sessionCall(target: string, body: Body): Promise<Body> {
    const answer = await call(target, body);
    if (!answer.ok) throw new CognitoError(answer.type, errorMessage(answer.type, 'session'));
    return answer.body;
  }

  function tokens(result: Body, refreshToken: string): Tokens | null {
    const idToken = text(result.IdToken);
    const accessToken = text(result.AccessToken);
    const refresh = text(result.RefreshToken) || refreshToken;
    if (idToken === '' || accessToken === '' || refresh === '') return null;
    const seconds = typeof result.ExpiresIn === 'number' ? result.ExpiresIn : 3600;
    return { idToken, accessToken, refreshToken: refresh, expiresAt: Date.now() + seconds * 1000 };
  }

  /** What an InitiateAuth or RespondToAuthChallenge answer asks the user to do next. */
  async function nextStep(answer: Answer, context: ErrorContext, username: string): Promise<SignInStep> {
    if (!answer.ok) return failed(answer.type, context);
    const { body } = answer;
    const signedIn = tokens(record(body.AuthenticationResult), '');
    if (signedIn !== null) return { kind: 'signedIn', tokens: signedIn };
    const challenge = { session: text(body.Session), username: text(record(body.ChallengeParameters).USERNAME) || username };
    const name = text(body.ChallengeName);
    if (challenge.session !== '') {
      if (name === 'NEW_PASSWORD_REQUIRED') return { kind: 'newPasswordRequired', challenge };
      if (name === 'SOFTWARE_TOKEN_MFA') return { kind: 'mfaRequired', challenge };
      if (name === 'MFA_SETUP') {
        const associated = await call('AssociateSoftwareToken', { Session: challenge.session });
        if (!associated.ok) return failed(associated.type, 'challenge');
        const secret = text(associated.body.SecretCode);
        const session = text(associated.body.Session);
        if (secret !== '' && session !== '') return { kind: 'mfaSetup', challenge: { ...challenge, session }, secret };
      }
    }
    return {
      kind: 'failed',
      message: `Sign-in needs a step this page does not support (${name || 'unknown'}).`,
      error: 'UnsupportedChallenge',
    };
  }

  async function respond(challenge: Challenge, name: string, responses: Body): Promise<SignInStep> {
    const answer = await call('RespondToAuthChallenge', {
      ChallengeName: name,
      ClientId: clientId,
      Session: challenge.session,
      ChallengeResponses: { USERNAME: challenge.username, ...responses },
    });
    return nextStep(answer, 'challenge', challenge.username);
  }

  return {
    async signIn(email, password) {
      const keyPair = srpKeyPair();
      const start = await call('InitiateAuth', {
        AuthFlow: 'USER_SRP_AUTH',
        ClientId: clientId,
        AuthParameters: { USERNAME: email, SRP_A: keyPair.A.toString(16) },
      });
      if (!start.ok || start.body.ChallengeName !== 'PASSWORD_VERIFIER') return nextStep(start, 'signIn', email);
      const parameters = record(start.body.ChallengeParameters);
      const userIdForSrp = text(parameters.USER_ID_FOR_SRP);
      const secretBlock = text(parameters.SECRET_BLOCK);
      const timestamp = cognitoTimestamp(new Date());
      let signature: string;
      try {
        const key = await passwordAuthenticationKey({
          poolName,
          userIdForSrp,
          password,
          keyPair,
          salt: text(parameters.SALT),
          srpB: text(parameters.SRP_B),
        });
        signature = await passwordClaimSignature(key, poolName, userIdForSrp, secretBlock, timestamp);
      } catch {
        // A missing or malformed salt or B, or a B of zero: not an answer a real pool gives.
        return failed('InvalidPasswordChallenge', 'signIn');
      }
      const session = text(start.body.Session);
      const answer = await call('RespondToAuthChallenge', {
        ChallengeName: 'PASSWORD_VERIFIER',
        ClientId: clientId,
        ...(session === '' ? {} : { Session: session }),
        ChallengeResponses: {
          // The user name as the pool knows it (with email sign-in, not the email typed).
          USERNAME: text(parameters.USERNAME) || userIdForSrp,
          PASSWORD_CLAIM_SECRET_BLOCK: secretBlock,
          PASSWORD_CLAIM_SIGNATURE: signature,
          TIMESTAMP: timestamp,
        },
      });
      // A wrong password is refused here, as NotAuthorizedException: a sign-in error, not a challenge one.
      return nextStep(answer, 'signIn', text(parameters.USERNAME) || userIdForSrp);
    },

    setNewPassword: (challenge, newPassword) => respond(challenge, 'NEW_PASSWORD_REQUIRED', { NEW_PASSWORD: newPassword }),

    answerMfa: (challenge, code) => respond(challenge, 'SOFTWARE_TOKEN_MFA', { SOFTWARE_TOKEN_MFA_CODE: code }),

    async finishMfaSetup(challenge, code) {
      const verified = await call('VerifySoftwareToken', { Session: challenge.session, UserCode: code });
      if (!verified.ok) return failed(verified.type, 'challenge');
      if (verified.body.Status !== 'SUCCESS') return failed('CodeMismatchException', 'challenge');
      return respond({ ...challenge, session: text(verified.body.Session) }, 'MFA_SETUP', {});
    },

    async forgotPassword(email) {
      const answer = await call('ForgotPassword', { ClientId: clientId, Username: email });
      if (answer.ok || answer.type === 'UserNotFoundException') return { kind: 'done' };
      return failed(answer.type, 'reset');
    },

    async confirmForgotPassword(email, code, newPassword) {
      const answer = await call('ConfirmForgotPassword', {
        ClientId: clientId,
        Username: email,
        ConfirmationCode: code,
        Password: newPassword,
      });
      return answer.ok ? { kind: 'done' } : failed(answer.type, 'reset');
    },

    async refresh(refreshToken) {
      const body = await sessionCall('InitiateAuth', {
        AuthFlow: 'REFRESH_TOKEN_AUTH',
        ClientId: clientId,
        AuthParameters: { REFRESH_TOKEN: refreshToken },
      });
      const renewed = tokens(record(body.AuthenticationResult), refreshToken);
      if (renewed === null) throw new CognitoError('NoTokens', errorMessage('NoTokens', 'session'));
      return renewed;
    },

    async totpMfaEnabled(accessToken) {
      const user = await sessionCall('GetUser', { AccessToken: accessToken });
      return Array.isArray(user.UserMFASettingList) && user.UserMFASettingList.includes('SOFTWARE_TOKEN_MFA');
    },

    async associateSoftwareToken(accessToken) {
      const secret = text((await sessionCall('AssociateSoftwareToken', { AccessToken: accessToken })).SecretCode);
      if (secret === '') throw new CognitoError('NoSecret', errorMessage('NoSecret', 'session'));
      return secret;
    },

    async verifySoftwareToken(accessToken, code) {
      const answer = await sessionCall('VerifySoftwareToken', { AccessToken: accessToken, UserCode: code });
      if (answer.Status !== 'SUCCESS') {
        throw new CognitoError('CodeMismatchException', errorMessage('CodeMismatchException', 'session'));
      }
    },

    async setTotpMfa(accessToken, enabled) {
      await sessionCall('SetUserMFAPreference', {
        AccessToken: accessToken,
        SoftwareTokenMfaSettings: { Enabled: enabled, PreferredMfa: enabled },
      });
    },

    async globalSignOut(accessToken) {
      await sessionCall('GlobalSignOut', { AccessToken: accessToken });
    },
  };
}
