// Two-step sign-in (TOTP MFA) on the settings page: whether it is on, turning it on with an
// authenticator app (QR code or key, then a first code to prove the app has it), and turning it off.

import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { AuthenticatorSetup } from './AuthenticatorSetup';
import type { MfaControls } from './session';
import './auth.css';
import { CodeField } from './CodeField';
import { FormMessages } from './FormMessages';

type State =
  { kind: 'loading' } | { kind: 'unknown' } | { kind: 'off' } | { kind: 'enrolling'; secret: string; otpauthUri: string } | { kind: 'on' };

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function MfaSettings({ mfa }: { mfa: MfaControls }) {
  const [state, setState] = useState<State>({ kind: 'loading' });
  const [code, setCode] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // Where focus goes after each change: the instructions when enrolling starts, the outcome after it.
  const enrolHeading = useRef<HTMLHeadingElement>(null);
  const status = useRef<HTMLParagraphElement>(null);
  const focusNext = useRef<'enrol' | 'status' | null>(null);

  const fetchEnabled = useCallback(
    () =>
      mfa.enabled().then(
        (enabled) => setState({ kind: enabled ? 'on' : 'off' }),
        (failure: unknown) => {
          setError(messageOf(failure));
          setState({ kind: 'unknown' });
        },
      ),
    [mfa],
  );
  // Once per MfaControls, that is once per sign-in (it starts as loading).
  useEffect(() => void fetchEnabled(), [fetchEnabled]);
  const load = () => {
    setState({ kind: 'loading' });
    setError(null);
    void fetchEnabled();
  };

  useEffect(() => {
    const target = focusNext.current === 'enrol' ? enrolHeading.current : focusNext.current === 'status' ? status.current : null;
    focusNext.current = null;
    target?.focus();
  }, [state.kind]);

  const run = async (action: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      await action();
    } catch (failure) {
      setError(messageOf(failure));
    } finally {
      setBusy(false);
    }
  };

  const turnOn = () =>
    run(async () => {
      const enrolment = await mfa.beginEnrolment();
      setCode('');
      focusNext.current = 'enrol';
      setState({ kind: 'enrolling', ...enrolment });
    });

  const confirm = (event: FormEvent) => {
    event.preventDefault();
    void run(async () => {
      await mfa.confirmEnrolment(code.trim());
      setNotice('Two-step sign-in is on. From now on, signing in asks for a code from your authenticator app.');
      focusNext.current = 'status';
      setState({ kind: 'on' });
    });
  };

  const turnOff = () =>
    run(async () => {
      await mfa.disable();
      setNotice('Two-step sign-in is off.');
      focusNext.current = 'status';
      setState({ kind: 'off' });
    });

  const cancel = () => {
    setError(null);
    focusNext.current = 'status';
    setState({ kind: 'off' });
  };

  return (
    <section className="auth-mfa" aria-labelledby="auth-mfa-title" data-testid="mfa-settings" data-state={state.kind}>
      <h2 id="auth-mfa-title">Two-step sign-in</h2>
      <p ref={status} tabIndex={-1} data-testid="mfa-status">
        {state.kind === 'loading' && 'Checking…'}
        {state.kind === 'unknown' && 'Could not check whether two-step sign-in is on.'}
        {state.kind === 'on' && 'On: signing in asks for your password and a code from your authenticator app.'}
        {(state.kind === 'off' || state.kind === 'enrolling') && 'Off: signing in asks only for your password.'}
      </p>
      <FormMessages notice={notice} error={error} noticeTestId="mfa-notice" errorTestId="mfa-error" />
      {state.kind === 'unknown' && (
        <button type="button" className="auth-button" onClick={load}>
          Try again
        </button>
      )}
      {state.kind === 'off' && (
        <button type="button" className="auth-button" disabled={busy} onClick={() => void turnOn()} data-testid="mfa-turn-on">
          Turn on
        </button>
      )}
      {state.kind === 'on' && (
        <button
          type="button"
          className="auth-button auth-button-quiet"
          disabled={busy}
          onClick={() => void turnOff()}
          data-testid="mfa-turn-off"
        >
          Turn off
        </button>
      )}
      {state.kind === 'enrolling' && (
        <form className="auth-mfa-enrol" onSubmit={confirm}>
          <h3 ref={enrolHeading} tabIndex={-1}>
            Add an authenticator app
          </h3>
          <AuthenticatorSetup otpauthUri={state.otpauthUri} secret={state.secret} />
          <CodeField value={code} onChange={setCode} testId="mfa-code" />
          <div className="auth-actions">
            <button type="submit" className="auth-button" disabled={busy} data-testid="mfa-confirm">
              Turn on
            </button>
            <button type="button" className="auth-link" disabled={busy} onClick={cancel}>
              Cancel
            </button>
          </div>
        </form>
      )}
    </section>
  );
}
