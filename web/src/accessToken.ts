// Where the page gets its access token: `serverless-openclaw local` prints a URL ending in `?token=...`.
// The token is kept in sessionStorage (so reloads of the tab keep working) and taken out of the visible URL
// (so it does not linger in the address bar, screenshots or bookmarks).

import type { AuthSession } from './auth/session';

const STORAGE_KEY = 'serverless-openclaw.token';

export type TokenStorage = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

export interface ResolvedToken {
  token: string | null;
  /** The same URL without the `token` parameter (path, query and hash), or null when it had none. */
  urlWithoutToken: string | null;
}

/** Pure part of takeAccessToken: the URL's token wins over a stored one and replaces it. */
export function resolveAccessToken(href: string, storage: TokenStorage | null): ResolvedToken {
  const url = new URL(href);
  const fromUrl = url.searchParams.get('token');
  if (!url.searchParams.has('token')) {
    return { token: storage?.getItem(STORAGE_KEY) || null, urlWithoutToken: null };
  }
  url.searchParams.delete('token');
  const urlWithoutToken = url.pathname + url.search + url.hash;
  if (fromUrl) {
    storage?.setItem(STORAGE_KEY, fromUrl);
    return { token: fromUrl, urlWithoutToken };
  }
  return { token: storage?.getItem(STORAGE_KEY) || null, urlWithoutToken };
}

function sessionStore(): TokenStorage | null {
  try {
    return window.sessionStorage;
  } catch {
    // Storage can be disabled by the browser; the token then lives only as long as the page.
    return null;
  }
}

/** Reads the token for this tab and removes it from the address bar. */
export function takeAccessToken(): string | null {
  const { token, urlWithoutToken } = resolveAccessToken(window.location.href, sessionStore());
  if (urlWithoutToken !== null && sessionStore() !== null) {
    window.history.replaceState(window.history.state, '', urlWithoutToken);
  }
  return token;
}

/** Drops a token the server refused, so a reload asks for the right URL instead of failing again. */
export function forgetAccessToken(): void {
  sessionStore()?.removeItem(STORAGE_KEY);
}

/**
 * A session with one fixed token, as local mode has: it never expires (a fresh token is the same one), there
 * is nothing to sign out of and no MFA. `refused` is called when the server refuses the token.
 */
export function fixedTokenSession(token: string, refused: () => void): AuthSession {
  return {
    token,
    freshToken: () => Promise.resolve(token),
    expiresAt: () => null,
    refused,
    signOut: null,
    mfa: null,
    userName: null,
  };
}
