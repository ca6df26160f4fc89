// A signed-in Cognito session while the page is open: it renews the tokens with the refresh token
// 5 minutes before they expire (on a timer, and on demand when a caller needs a token that will last),
// ends the session when Cognito refuses, signs out, and gives the user's MFA settings (through the
// access token). The calls themselves are the library's (cognito.ts); the timing is ours, because the
// library renews only tokens that have already expired. No React here: CognitoGate owns one of these per
// sign-in and tests drive it with fake timers.

import { CognitoError, type CognitoAccount, type Tokens } from './cognito';
import { NETWORK_ERROR, SESSION_ENDED } from './errors';
import { otpauthUri } from './otpauth';
import type { MfaControls } from './session';

/** Tokens are renewed when they have less than this left. */
export const REFRESH_MARGIN_MS = 5 * 60_000;
/** A renewal that could not reach Cognito is tried again after this long. */
export const RETRY_MS = 30_000;

export const SIGNED_OUT = 'You have signed out.';

export interface CognitoSessionOptions {
  account: CognitoAccount;
  /** New tokens (the library has stored them): show the app with them. */
  onRenewed(tokens: Tokens): void;
  /** The session is over (signed out, refused, or not renewable); `notice` says why, for the sign-in form. */
  onEnded(notice: string): void;
}

function unreachable(error: unknown): boolean {
  return error instanceof CognitoError && error.type === NETWORK_ERROR;
}

export class CognitoSession {
  readonly mfa: MfaControls;
  /** The renewal in flight: concurrent callers (the timer, the socket, a REST call) share it. */
  private renewal: Promise<Tokens> | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Whether the page is showing this session (between start and stop): only then does the timer run. */
  private running = false;
  private ended = false;

  constructor(private readonly options: CognitoSessionOptions) {
    const { account } = options;
    this.mfa = {
      enabled: () => this.withAccessToken(() => account.totpMfaEnabled()),
      beginEnrolment: async () => {
        const secret = await this.withAccessToken(() => account.associateSoftwareToken());
        return { secret, otpauthUri: otpauthUri(account.userName, secret) };
      },
      confirmEnrolment: (code) =>
        this.withAccessToken(async () => {
          await account.verifySoftwareToken(code);
          await account.setTotpMfa(true);
        }),
      disable: () => this.withAccessToken(() => account.setTotpMfa(false)),
    };
  }

  /** Starts the renewal timer (renews at once if the tokens are already close to expiry). */
  start(): void {
    this.running = true;
    this.schedule();
  }

  /** Stops the timer; a later start() picks up where it left off. */
  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
  }

  /**
   * An ID token with more than 5 minutes left, renewed first if needed. If Cognito cannot be reached the
   * current token is returned while it is still valid; rejects once the session has ended or cannot be
   * renewed (a refused renewal ends it).
   */
  readonly freshToken = async (): Promise<string> => (await this.freshTokens()).idToken;

  /** When the current tokens expire (epoch ms, corrected for the clock drift Cognito measured). */
  readonly expiresAt = (): number => this.options.account.tokens().expiresAt;

  /** The server refused the ID token: the session is over. */
  readonly refused = (): void => this.end(SESSION_ENDED);

  /** Revokes the tokens at Cognito (best effort: the page forgets them whether or not that call succeeds). */
  readonly signOut = (): void => {
    if (this.ended) return;
    // The call is on its way (with the access token) before end() forgets the tokens.
    this.options.account.globalSignOut().catch(() => undefined);
    this.end(SIGNED_OUT);
  };

  /** Ends the session, forgets its tokens and shows the sign-in form with `notice`. */
  end(notice: string): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.timer);
    this.options.account.forget();
    this.options.onEnded(notice);
  }

  private async freshTokens(): Promise<Tokens> {
    if (this.ended) throw new CognitoError('SessionEnded', SESSION_ENDED);
    const tokens = this.options.account.tokens();
    if (tokens.expiresAt - Date.now() > REFRESH_MARGIN_MS) return tokens;
    try {
      return await this.renew();
    } catch (error) {
      const latest = this.options.account.tokens();
      if (unreachable(error) && latest.expiresAt > Date.now()) return latest;
      throw error;
    }
  }

  private renew(): Promise<Tokens> {
    this.renewal ??= this.options.account.refresh().then(
      (tokens) => {
        this.renewal = null;
        if (this.ended) throw new CognitoError('SessionEnded', SESSION_ENDED);
        this.options.onRenewed(tokens);
        this.schedule();
        return tokens;
      },
      (error: unknown) => {
        this.renewal = null;
        // Offline is not a verdict: the timer tries again. Anything else means the refresh token is
        // revoked or expired (or the user is gone), and only a new sign-in helps.
        if (!unreachable(error)) this.end(SESSION_ENDED);
        throw error;
      },
    );
    return this.renewal;
  }

  private schedule(delay: number = this.options.account.tokens().expiresAt - REFRESH_MARGIN_MS - Date.now()): void {
    clearTimeout(this.timer);
    if (!this.running || this.ended) return;
    this.timer = setTimeout(
      () => {
        // A refused renewal has ended the session (and schedule() then does nothing).
        this.renew().catch(() => this.schedule(RETRY_MS));
      },
      Math.max(0, delay),
    );
  }

  /** Runs an access-token call; a refused access token (revoked by a sign-out elsewhere) ends the session. */
  private async withAccessToken<T>(action: () => Promise<T>): Promise<T> {
    await this.freshTokens();
    try {
      return await action();
    } catch (error) {
      if (error instanceof CognitoError && error.type === 'NotAuthorizedException') this.end(SESSION_ENDED);
      throw error;
    }
  }
}
