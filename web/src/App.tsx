// The page: loads config.json, then the sign-in that config names (the local access token, or the
// deployment's Cognito user pool), then the signed-in app (SignedInApp.tsx) with the session it made.

import { useEffect, useMemo, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { forgetAccessToken, fixedTokenSession, takeAccessToken } from './accessToken';
import type { AuthSession } from './auth/session';
import { answerMfa, setNewPassword, signIn, type SignInStep } from './cognito';
import { parseRuntimeConfig, type CognitoAuth, type RuntimeConfig } from './runtimeConfig';
import { SignedInApp } from './SignedInApp';

type Loaded = { kind: 'loading' } | { kind: 'failed'; message: string } | { kind: 'ready'; config: RuntimeConfig };

function useRuntimeConfig(): Loaded {
  const [loaded, setLoaded] = useState<Loaded>({ kind: 'loading' });
  useEffect(() => {
    // Absolute: the page is served at the root, and a deep link must not ask for /some/path/config.json.
    fetch('/config.json', { cache: 'no-store' })
      .then(async (response) => {
        if (!response.ok) throw new Error(`/config.json answered HTTP ${response.status}`);
        const config = parseRuntimeConfig(await response.json());
        setLoaded(typeof config === 'string' ? { kind: 'failed', message: config } : { kind: 'ready', config });
      })
      .catch((error: unknown) => setLoaded({ kind: 'failed', message: error instanceof Error ? error.message : String(error) }));
  }, []);
  return loaded;
}

export function App() {
  const loaded = useRuntimeConfig();
  if (loaded.kind === 'loading') return null;
  if (loaded.kind === 'failed') {
    return (
      <Notice testId="config-error" title="This page is not set up">
        Its configuration could not be read: {loaded.message}
      </Notice>
    );
  }
  const { config } = loaded;
  return config.auth.kind === 'cognito' ? <CognitoGate config={config} auth={config.auth} /> : <TokenGate config={config} />;
}

/** Local mode: the token from the URL printed by `serverless-openclaw local`. */
function TokenGate({ config }: { config: RuntimeConfig }) {
  const [token] = useState(takeAccessToken);
  const [refused, setRefused] = useState(false);
  const session = useMemo(
    () =>
      token === null
        ? null
        : fixedTokenSession(token, () => {
            forgetAccessToken();
            setRefused(true);
          }),
    [token],
  );
  if (session === null) {
    return (
      <Notice testId="no-token" title="No access token">
        Open the URL printed by <code>serverless-openclaw local</code>; it ends with <code>?token=…</code>.
      </Notice>
    );
  }
  if (refused) {
    return (
      <Notice testId="auth-error" title="Invalid token">
        The server refused this access token. Open the URL printed by <code>serverless-openclaw local</code> again.
      </Notice>
    );
  }
  return <SignedInApp config={config} session={session} />;
}

const SESSION_KEY = 'serverless-openclaw.session';

interface Session {
  idToken: string;
  expiresAt: number;
}

function storedSession(): Session | null {
  try {
    const session = JSON.parse(window.sessionStorage.getItem(SESSION_KEY) ?? 'null') as Session | null;
    // A token about to expire would be refused by the next reconnect: sign in again instead.
    return session !== null && session.expiresAt - Date.now() > 60_000 ? session : null;
  } catch {
    return null;
  }
}

function storeSession(session: Session | null): void {
  try {
    if (session === null) window.sessionStorage.removeItem(SESSION_KEY);
    else window.sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  } catch {
    // Storage can be disabled by the browser; the session then lives only as long as the page.
  }
}

/** AWS: sign in to the deployment's Cognito user pool; the ID token opens the socket and calls the API. */
function CognitoGate({ config, auth }: { config: RuntimeConfig; auth: CognitoAuth }) {
  const [session, setSession] = useState(storedSession);
  const [notice, setNotice] = useState<string | null>(null);
  if (session === null) {
    return (
      <SignIn
        auth={auth}
        notice={notice}
        onSignedIn={(signedIn) => {
          storeSession(signedIn);
          setNotice(null);
          setSession(signedIn);
        }}
      />
    );
  }
  return (
    <ChatPage
      config={config}
      token={session.idToken}
      onRefused={() => {
        storeSession(null);
        setNotice('Your session has ended. Sign in again.');
        setSession(null);
      }}
    />
  );
}

function SignIn({ auth, notice, onSignedIn }: { auth: CognitoAuth; notice: string | null; onSignedIn: (session: Session) => void }) {
  const [email, setEmail] = useState('');
  const [secret, setSecret] = useState('');
  const [step, setStep] = useState<SignInStep | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    const next =
      step?.kind === 'newPasswordRequired'
        ? await setNewPassword(auth, email, step.session, secret)
        : step?.kind === 'mfaRequired'
          ? await answerMfa(auth, email, step.session, secret.trim())
          : await signIn(auth, email.trim(), secret);
    setBusy(false);
    setSecret('');
    if (next.kind === 'signedIn') onSignedIn({ idToken: next.idToken, expiresAt: next.expiresAt });
    // A failed answer to a challenge starts over: Cognito's session for it may be spent.
    else setStep(next);
  };

  const label =
    step?.kind === 'newPasswordRequired' ? 'New password' : step?.kind === 'mfaRequired' ? 'Authenticator code' : 'Password';
  return (
    <div className="notice-page">
      <form className="notice sign-in" data-testid="sign-in" onSubmit={(event) => void submit(event)}>
        <h1>Sign in</h1>
        {notice !== null && step === null && <p role="status">{notice}</p>}
        {step?.kind === 'failed' && (
          <p className="hint-error" role="alert" data-testid="sign-in-error">
            {step.message}
          </p>
        )}
        {step?.kind === 'newPasswordRequired' && <p>Choose your own password to replace the temporary one.</p>}
        {step?.kind === 'mfaRequired' && <p>Enter the code from your authenticator app.</p>}
        <label>
          Email
          <input
            type="email"
            autoComplete="username"
            required
            value={email}
            readOnly={step?.kind === 'newPasswordRequired' || step?.kind === 'mfaRequired'}
            onChange={(event) => setEmail(event.target.value)}
          />
        </label>
        <label>
          {label}
          <input
            type={step?.kind === 'mfaRequired' ? 'text' : 'password'}
            inputMode={step?.kind === 'mfaRequired' ? 'numeric' : undefined}
            autoComplete={
              step?.kind === 'newPasswordRequired' ? 'new-password' : step?.kind === 'mfaRequired' ? 'one-time-code' : 'current-password'
            }
            required
            value={secret}
            onChange={(event) => setSecret(event.target.value)}
          />
        </label>
        <button type="submit" className="button button-send" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </div>
  );
}

function Notice({ testId, title, children }: { testId: string; title: string; children: ReactNode }) {
  return (
    <div className="notice-page">
      <div className="notice" data-testid={testId} role="alert">
        <h1>{title}</h1>
        <p>{children}</p>
      </div>
    </div>
  );
}

/**
 * Interim: hands the Cognito gate's token to the signed-in app as an AuthSession, until the gate (moving to
 * auth/CognitoGate.tsx) makes the session itself. No silent renewal here: an expired token signs out.
 */
function ChatPage({ config, token, onRefused }: { config: RuntimeConfig; token: string; onRefused: () => void }) {
  // The gate passes a new callback on every render; the session must stay the same object.
  const onRefusedRef = useRef(onRefused);
  useEffect(() => {
    onRefusedRef.current = onRefused;
  }, [onRefused]);
  const session = useMemo<AuthSession>(() => fixedTokenSession(token, () => onRefusedRef.current()), [token]);
  return <SignedInApp config={config} session={session} />;
}
