// Placeholder until the Cognito work lands its own MfaSettings here: shows whether TOTP MFA is on. The
// settings page renders it only for sessions that have MFA controls (AWS).

import { useEffect, useState } from 'react';
import type { MfaControls } from './session';

export function MfaSettings({ mfa }: { mfa: MfaControls }) {
  const [enabled, setEnabled] = useState<boolean | null>(null);
  useEffect(() => {
    mfa.enabled().then(setEnabled, () => setEnabled(null));
  }, [mfa]);
  return <p>{enabled === null ? 'Checking…' : enabled ? 'An authenticator app is required to sign in.' : 'Not turned on.'}</p>;
}
