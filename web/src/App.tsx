// The page: loads config.json, then the sign-in that config names (the local access token, or the
// deployment's Cognito user pool), then the signed-in app (SignedInApp.tsx) with the session it made.

import { lazy, Suspense, useEffect, useMemo, useState, type ReactNode } from 'react';
import { fixedTokenSession, forgetAccessToken, takeAccessToken } from './accessToken';
import { parseRuntimeConfig, type RuntimeConfig } from './runtimeConfig';
import { SignedInApp } from './SignedInApp';

// Loaded only on AWS: local mode's first load carries neither the sign-in nor the Cognito library.
const CognitoGate = lazy(() => import('./auth/CognitoGate').then(({ CognitoGate }) => ({ default: CognitoGate })));

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
  return config.auth.kind === 'cognito' ? (
    <Suspense fallback={null}>
      <CognitoGate config={config} auth={config.auth}>
        {(session) => <SignedInApp config={config} session={session} />}
      </CognitoGate>
    </Suspense>
  ) : (
    <TokenGate config={config} />
  );
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
