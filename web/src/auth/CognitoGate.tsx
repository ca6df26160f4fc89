// AWS: the sign-in to the deployment's Cognito user pool in front of the app. Signed out, it shows the
// sign-in form (email and password, then whatever the pool asks: a new password, the authenticator code,
// or enrolling an authenticator) and the password reset. Signed in, it renders its child with an
// AuthSession whose token a CognitoSession keeps fresh.
//
// The tokens live in sessionStorage (the library keeps them there, cognito.ts): they survive a reload but
// not the tab, and another site cannot read them. Like every token a page holds, they are readable by
// script running in the page, which the content security policy (infra/lib/web.ts) limits to the page's
// own files. App.tsx loads this module (and the library) only when config.json names a user pool.

import { useEffect, useMemo, useRef, useState, type FormEvent, type ReactNode } from 'react';
import type { CognitoAuth, RuntimeConfig } from '../runtimeConfig';
import { cognitoApi, type CognitoAccount, type Challenge, type CognitoApi, type SignInStep } from './cognito';
import { CognitoSession, REFRESH_MARGIN_MS } from './cognitoSession';
import { NETWORK_ERROR, SESSION_ENDED } from './errors';
import { AuthenticatorSetup } from './AuthenticatorSetup';
import { otpauthUri } from './otpauth';
import type { AuthSession } from './session';
import './auth.css';
import { CodeField } from './CodeField';
import { FormMessages } from './FormMessages';

type Gate =
  /** Reading (and, if they have expired, renewing) the tokens this tab kept. */
  { kind: 'restoring' } | { kind: 'signedOut'; notice: string | null } | { kind: 'signedIn'; account: CognitoAccount; id: number };

/**
 * Signs the user in to `auth`'s user pool, then renders `children` with the session. `config` is the
 * page's configuration; the gate itself needs only `auth` from it.
 */
export function CognitoGate({
  auth,
  children,
}: {
  config: RuntimeConfig;
  auth: CognitoAuth;
  children: (session: AuthSession) => ReactNode;
}) {
  const api = useMemo(() => cognitoApi(auth), [auth]);
  const [gate, setGate] = useState<Gate>({ kind: 'restoring' });

  useEffect(() => {
    let current = true;
    api.restore().then(
      (account) => current && setGate(account === null ? { kind: 'signedOut', notice: null } : { kind: 'signedIn', account, id: 0 }),
      (error: unknown) => current && setGate({ kind: 'signedOut', notice: error instanceof Error ? error.message : SESSION_ENDED }),
    );
    return () => {
      current = false;
    };
  }, [api]);

  if (gate.kind === 'restoring') return <SigningIn />;
  if (gate.kind === 'signedOut') {
    return <SignIn api={api} notice={gate.notice} onSignedIn={(account) => setGate({ kind: 'signedIn', account, id: Date.now() })} />;
  }
  return (
    <SignedInApp key={gate.id} account={gate.account} onEnded={(notice) => setGate({ kind: 'signedOut', notice })}>
      {children}
    </SignedInApp>
  );
}

function SigningIn() {
  return (
    <div className="auth-page">
      <p className="auth-card" role="status">
        Signing in…
      </p>
    </div>
  );
}

/** One sign-in's lifetime: its CognitoSession, and the app once the token is fresh. */
function SignedInApp({
  account,
  onEnded,
  children,
}: {
  account: CognitoAccount;
  onEnded: (notice: string) => void;
  children: (session: AuthSession) => ReactNode;
}) {
  const [idToken, setIdToken] = useState(() => account.tokens().idToken);
  const [keeper] = useState(() => new CognitoSession({ account, onRenewed: (tokens) => setIdToken(tokens.idToken), onEnded }));
  // A session restored after a while away may hold tokens about to expire: renew before the app uses them.
  const [ready, setReady] = useState(() => account.tokens().expiresAt - Date.now() > REFRESH_MARGIN_MS);

  useEffect(() => {
    keeper.start();
    return () => keeper.stop();
  }, [keeper]);

  useEffect(() => {
    if (ready) return;
    keeper.freshToken().then(
      () => setReady(true),
      (error: unknown) => keeper.end(error instanceof Error ? error.message : SESSION_ENDED),
    );
  }, [keeper, ready]);

  const session = useMemo<AuthSession>(
    () => ({
      token: idToken,
      freshToken: keeper.freshToken,
      expiresAt: keeper.expiresAt,
      refused: keeper.refused,
      signOut: keeper.signOut,
      mfa: keeper.mfa,
      userName: account.userName,
    }),
    [keeper, account, idToken],
  );

  if (!ready) return <SigningIn />;
  return <>{children(session)}</>;
}

type Form =
  | { kind: 'credentials' }
  | { kind: 'newPassword'; challenge: Challenge }
  | { kind: 'mfaCode'; challenge: Challenge }
  | { kind: 'mfaSetup'; challenge: Challenge; secret: string }
  | { kind: 'reset' };

/** Errors after which the same step can be answered again; any other error starts the sign-in over. */
const RETRY_SAME_STEP = new Set([
  'CodeMismatchException',
  'EnableSoftwareTokenMFAException',
  'ExpiredCodeException',
  'InvalidPasswordException',
  NETWORK_ERROR,
  'TooManyRequestsException',
  'LimitExceededException',
]);

const PASSWORD_RULES = '12 or more characters, with upper and lower case letters, a digit and a symbol.';

function SignIn({ api, notice, onSignedIn }: { api: CognitoApi; notice: string | null; onSignedIn: (account: CognitoAccount) => void }) {
  const [form, setForm] = useState<Form>({ kind: 'credentials' });
  const [email, setEmail] = useState('');
  const [secret, setSecret] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [info, setInfo] = useState<string | null>(notice);
  const [busy, setBusy] = useState(false);

  // Enrolling starts with reading and scanning, not typing: focus goes to the heading, not the code field.
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (form.kind === 'mfaSetup') heading.current?.focus();
  }, [form.kind]);

  if (form.kind === 'reset') {
    return (
      <PasswordReset
        api={api}
        initialEmail={email}
        onDone={(doneEmail, message) => {
          setEmail(doneEmail);
          setInfo(message);
          setError(null);
          setForm({ kind: 'credentials' });
        }}
        onCancel={() => setForm({ kind: 'credentials' })}
      />
    );
  }

  const apply = (step: SignInStep) => {
    switch (step.kind) {
      case 'signedIn':
        onSignedIn(step.account);
        return;
      case 'newPasswordRequired':
        setForm({ kind: 'newPassword', challenge: step.challenge });
        return;
      case 'mfaRequired':
        setForm({ kind: 'mfaCode', challenge: step.challenge });
        return;
      case 'mfaSetup':
        setForm({ kind: 'mfaSetup', challenge: step.challenge, secret: step.secret });
        return;
      case 'failed':
        setError(step.message);
        if (form.kind !== 'credentials' && !RETRY_SAME_STEP.has(step.error)) setForm({ kind: 'credentials' });
    }
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setInfo(null);
    const answer = secret.trim();
    const step =
      form.kind === 'newPassword'
        ? await api.setNewPassword(form.challenge, secret)
        : form.kind === 'mfaCode'
          ? await api.answerMfa(form.challenge, answer)
          : form.kind === 'mfaSetup'
            ? await api.finishMfaSetup(form.challenge, answer)
            : await api.signIn(email.trim(), secret);
    setBusy(false);
    setSecret('');
    apply(step);
  };

  const startOver = () => {
    setError(null);
    setSecret('');
    setForm({ kind: 'credentials' });
  };

  const code = form.kind === 'mfaCode' || form.kind === 'mfaSetup';
  return (
    <div className="auth-page">
      {/* The key remounts the form on each step, so autoFocus moves focus to the step's field. */}
      <form key={form.kind} className="auth-card" data-testid="sign-in" data-step={form.kind} onSubmit={(event) => void submit(event)}>
        <h1 ref={heading} tabIndex={-1}>
          {form.kind === 'mfaSetup' ? 'Set up two-step sign-in' : 'Sign in'}
        </h1>
        <FormMessages notice={info} error={error} noticeTestId="sign-in-notice" errorTestId="sign-in-error" />
        {form.kind === 'newPassword' && <p>Choose your own password to replace the temporary one: {PASSWORD_RULES}</p>}
        {form.kind === 'mfaCode' && <p>Enter the 6-digit code from your authenticator app.</p>}
        {form.kind === 'mfaSetup' && <AuthenticatorSetup otpauthUri={otpauthUri(email.trim(), form.secret)} secret={form.secret} />}
        <label className="auth-field">
          Email
          <input
            type="email"
            autoComplete="username"
            required
            autoFocus={form.kind === 'credentials' && email === ''}
            value={email}
            readOnly={form.kind !== 'credentials'}
            onChange={(event) => setEmail(event.target.value)}
          />
        </label>
        {code ? (
          <CodeField value={secret} onChange={setSecret} testId="sign-in-code" autoFocus={form.kind === 'mfaCode'} />
        ) : (
          <label className="auth-field">
            {form.kind === 'newPassword' ? 'New password' : 'Password'}
            <input
              type="password"
              autoComplete={form.kind === 'newPassword' ? 'new-password' : 'current-password'}
              required
              autoFocus={form.kind === 'newPassword' || email !== ''}
              value={secret}
              data-testid="sign-in-password"
              onChange={(event) => setSecret(event.target.value)}
            />
          </label>
        )}
        <button type="submit" className="auth-button" disabled={busy}>
          {busy ? 'Signing in…' : form.kind === 'mfaSetup' ? 'Turn on and sign in' : 'Sign in'}
        </button>
        {form.kind === 'credentials' ? (
          <button type="button" className="auth-link" data-testid="forgot-password" onClick={() => setForm({ kind: 'reset' })}>
            Forgot password?
          </button>
        ) : (
          <button type="button" className="auth-link" onClick={startOver}>
            Start over
          </button>
        )}
      </form>
    </div>
  );
}

const RESET_SENT = 'If an account uses this email, a code is on its way to it. It is valid for one hour.';
const RESET_DONE = 'Your password has been changed. Sign in with the new one.';

/** "Forgot password?": a code by email, then the code and a new password. */
function PasswordReset({
  api,
  initialEmail,
  onDone,
  onCancel,
}: {
  api: CognitoApi;
  initialEmail: string;
  onDone: (email: string, notice: string) => void;
  onCancel: () => void;
}) {
  const [stage, setStage] = useState<'request' | 'confirm'>('request');
  const [email, setEmail] = useState(initialEmail);
  const [code, setCode] = useState('');
  const [password, setPassword] = useState('');
  const [repeat, setRepeat] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [info, setInfo] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const sendCode = async () => {
    setBusy(true);
    setError(null);
    const step = await api.forgotPassword(email.trim());
    setBusy(false);
    if (step.kind === 'failed') {
      setError(step.message);
      return;
    }
    setInfo(RESET_SENT);
    setStage('confirm');
  };

  const confirm = async () => {
    if (password !== repeat) {
      setError('The two passwords are not the same.');
      return;
    }
    setBusy(true);
    setError(null);
    const step = await api.confirmForgotPassword(email.trim(), code.trim(), password);
    setBusy(false);
    if (step.kind === 'failed') {
      setError(step.message);
      return;
    }
    onDone(email.trim(), RESET_DONE);
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    void (stage === 'request' ? sendCode() : confirm());
  };

  return (
    <div className="auth-page">
      <form key={stage} className="auth-card" data-testid="password-reset" data-step={stage} onSubmit={submit}>
        <h1>Reset your password</h1>
        <FormMessages notice={info} error={error} errorTestId="reset-error" />
        {stage === 'request' && <p>We will email you a code to choose a new password.</p>}
        <label className="auth-field">
          Email
          <input
            type="email"
            autoComplete="username"
            required
            autoFocus={stage === 'request'}
            readOnly={stage === 'confirm'}
            value={email}
            onChange={(event) => setEmail(event.target.value)}
          />
        </label>
        {stage === 'confirm' && (
          <>
            <label className="auth-field">
              Code from the email
              <input
                type="text"
                inputMode="numeric"
                autoComplete="one-time-code"
                required
                autoFocus
                value={code}
                onChange={(event) => setCode(event.target.value)}
              />
            </label>
            <label className="auth-field">
              New password
              <input
                type="password"
                autoComplete="new-password"
                required
                aria-describedby="auth-password-rules"
                value={password}
                onChange={(event) => setPassword(event.target.value)}
              />
            </label>
            <p id="auth-password-rules" className="auth-hint">
              {PASSWORD_RULES}
            </p>
            <label className="auth-field">
              Repeat the new password
              <input
                type="password"
                autoComplete="new-password"
                required
                value={repeat}
                onChange={(event) => setRepeat(event.target.value)}
              />
            </label>
          </>
        )}
        <button type="submit" className="auth-button" disabled={busy}>
          {stage === 'request' ? 'Email me a code' : 'Change password'}
        </button>
        {stage === 'confirm' && (
          <button type="button" className="auth-link" disabled={busy} onClick={() => void sendCode()}>
            Send a new code
          </button>
        )}
        <button type="button" className="auth-link" onClick={onCancel}>
          Back to sign-in
        </button>
      </form>
    </div>
  );
}
