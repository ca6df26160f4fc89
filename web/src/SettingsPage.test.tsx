import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import type { Api } from './api';
import type { AuthSession, MfaControls } from './auth/session';
import { SettingsPage } from './SettingsPage';

const never = () => new Promise<never>(() => {});
const api = new Proxy({}, { get: () => never }) as Api;

const mfa: MfaControls = {
  enabled: () => Promise.resolve(false),
  beginEnrolment: never,
  confirmEnrolment: never,
  disable: never,
};

function session(withMfa: boolean): AuthSession {
  return {
    token: 't',
    freshToken: () => Promise.resolve('t'),
    expiresAt: () => null,
    refused: () => {},
    signOut: null,
    mfa: withMfa ? mfa : null,
    userName: null,
  };
}

describe('SettingsPage', () => {
  it('shows the two-step sign-in section only for a session with MFA controls', () => {
    expect(renderToStaticMarkup(<SettingsPage api={api} session={session(true)} />)).toContain('data-testid="mfa-settings"');
    expect(renderToStaticMarkup(<SettingsPage api={api} session={session(false)} />)).not.toContain('mfa-settings');
  });
});
