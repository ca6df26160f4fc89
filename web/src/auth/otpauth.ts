// The `otpauth://` URI an authenticator app reads from a QR code (Google's Key URI format, which every
// common app understands): issuer and account for the app's list, the base32 key, and Cognito's TOTP
// parameters, which are the format's defaults (SHA-1, 6 digits, 30 s) and so are left out.

/** What authenticator apps show as the account's provider. */
export const ISSUER = 'serverless-openclaw';

export function otpauthUri(account: string, secret: string, issuer: string = ISSUER): string {
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(account)}`;
  return `otpauth://totp/${label}?secret=${encodeURIComponent(secret)}&issuer=${encodeURIComponent(issuer)}`;
}
