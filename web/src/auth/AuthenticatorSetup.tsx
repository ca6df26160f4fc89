// Adding this account to an authenticator app: the steps, the QR code of the `otpauth://` URI, and the
// key in groups of four for typing it in by hand. Used at sign-in (when the pool requires MFA) and on
// the settings page.

import { QrCode } from './QrCode';

export function AuthenticatorSetup({ otpauthUri, secret }: { otpauthUri: string; secret: string }) {
  return (
    <div className="auth-enrol">
      <ol>
        <li>Open your authenticator app and add an account by scanning this QR code.</li>
        <li>Then enter the 6-digit code the app shows.</li>
      </ol>
      <QrCode text={otpauthUri} label="QR code to add this account to an authenticator app" />
      <p>
        Cannot scan it? Enter this key in the app instead:{' '}
        <code className="auth-secret" data-testid="authenticator-key">
          {secret.replace(/(.{4})/g, '$1 ').trim()}
        </code>
      </p>
    </div>
  );
}
