// What the signed-in part of the app gets from whichever gate let the user in: the local access token
// (local mode) or a Cognito session (AWS). The chat, the REST calls and the settings page use only this.

/** TOTP multi-factor authentication of the signed-in Cognito user (absent in local mode). */
export interface MfaControls {
  /** Whether TOTP MFA is on for this user. */
  enabled(): Promise<boolean>;
  /** Starts enrolment: the secret and the `otpauth://` URI to show as a QR code. */
  beginEnrolment(): Promise<{ secret: string; otpauthUri: string }>;
  /** Finishes enrolment with a code from the authenticator app and turns MFA on. */
  confirmEnrolment(code: string): Promise<void>;
  /** Turns MFA off. */
  disable(): Promise<void>;
}

export interface AuthSession {
  /** The bearer token for REST calls and the WebSocket, valid now. */
  token: string;
  /**
   * A token that stays valid for at least a few minutes: refreshes silently first if the current one
   * is about to expire. Rejects when the session cannot be renewed (the user must sign in again).
   */
  freshToken(): Promise<string>;
  /**
   * When the token `freshToken` last gave expires, by this page's clock (epoch ms); `null` for a token
   * that does not expire (local mode). The chat's socket is trusted only until then.
   */
  expiresAt(): number | null;
  /** Called when the server refused the token: ends the session and shows the sign-in (or the local notice). */
  refused(): void;
  /** Signs out (Cognito); `null` in local mode where there is nothing to sign out of. */
  signOut: (() => void) | null;
  /** `null` in local mode. */
  mfa: MfaControls | null;
  /** Who is signed in (the email on AWS, `null` in local mode). */
  userName: string | null;
}
