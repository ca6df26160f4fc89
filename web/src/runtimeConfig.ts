// The page's runtime configuration, `config.json` next to index.html: where the REST API and the WebSocket
// are, and how the user signs in. On AWS the CDK app writes it (infra/lib/web.ts) with the deployed URLs and
// Cognito ids; in local mode the Rust server answers it (same origin, access token from the URL). The
// infra tests run this parser on what CDK writes, so both sides share one contract (docs/protocol.md).

export interface CognitoAuth {
  kind: 'cognito';
  region: string;
  userPoolId: string;
  userPoolClientId: string;
}

/** Local mode: the access token printed by `serverless-openclaw local`. */
export interface TokenAuth {
  kind: 'token';
}

export interface RuntimeConfig {
  version: 1;
  /** REST origin: `https://<host>` (no path), or `/` for the page's own origin; paths `/api/...` go after it. */
  apiUrl: string;
  /** The WebSocket to open: a `wss://` URL, or a path on the page's own origin (`/ws`). */
  websocketUrl: string;
  auth: CognitoAuth | TokenAuth;
}

const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;
const USER_POOL_ID = /^[a-z]{2}(-[a-z]+)+-\d+_[0-9A-Za-z]+$/;
const CLIENT_ID = /^[0-9a-z]{1,128}$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An absolute URL with one of `schemes` and nothing after its path, or a path on the page's origin. */
function urlOrPath(value: unknown, schemes: readonly string[], originOnly: boolean): value is string {
  if (typeof value !== 'string' || value === '') return false;
  if (value.startsWith('/')) return !value.startsWith('//') && (!originOnly || value === '/');
  try {
    const url = new URL(value);
    const bare = url.search === '' && url.hash === '' && url.username === '' && url.password === '';
    return schemes.includes(url.protocol) && bare && (!originOnly || url.pathname === '/');
  } catch {
    return false;
  }
}

function parseAuth(value: unknown): CognitoAuth | TokenAuth | string {
  if (!isRecord(value)) return 'auth must be an object';
  if (value.kind === 'token') return { kind: 'token' };
  if (value.kind !== 'cognito') return 'auth.kind must be "cognito" or "token"';
  const { region, userPoolId, userPoolClientId } = value;
  if (typeof region !== 'string' || !REGION.test(region)) return 'auth.region must be an AWS region';
  if (typeof userPoolId !== 'string' || !USER_POOL_ID.test(userPoolId) || !userPoolId.startsWith(`${region}_`)) {
    return 'auth.userPoolId must be a user pool id of auth.region';
  }
  if (typeof userPoolClientId !== 'string' || !CLIENT_ID.test(userPoolClientId)) {
    return 'auth.userPoolClientId must be an app client id';
  }
  return { kind: 'cognito', region, userPoolId, userPoolClientId };
}

/** Checks a parsed config.json; returns the config, or a message naming the first field that is wrong. */
export function parseRuntimeConfig(value: unknown): RuntimeConfig | string {
  if (!isRecord(value)) return 'config.json must be a JSON object';
  if (value.version !== 1) return `config.json version ${JSON.stringify(value.version)} is not supported (expected 1)`;
  if (!urlOrPath(value.apiUrl, ['https:', 'http:'], true)) return 'apiUrl must be an http(s) origin or "/"';
  if (!urlOrPath(value.websocketUrl, ['wss:', 'ws:'], false)) return 'websocketUrl must be a ws(s) URL or a path';
  const auth = parseAuth(value.auth);
  if (typeof auth === 'string') return auth;
  return { version: 1, apiUrl: value.apiUrl, websocketUrl: value.websocketUrl, auth };
}

/** The absolute URL of a REST path (`/api/...`) for a page at `pageHref`. */
export function restUrl(config: RuntimeConfig, path: string, pageHref: string): string {
  return new URL(path, new URL(config.apiUrl, pageHref)).href;
}

/** The WebSocket URL with the token (`?token=`, the only place a browser can put it) for a page at `pageHref`. */
export function socketUrl(config: RuntimeConfig, token: string, pageHref: string): string {
  const url = new URL(config.websocketUrl, pageHref);
  if (url.protocol === 'http:') url.protocol = 'ws:';
  if (url.protocol === 'https:') url.protocol = 'wss:';
  url.searchParams.set('token', token);
  return url.href;
}
