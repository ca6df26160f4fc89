// The Telegram link code: `POST /api/telegram/link-code` (docs/protocol.md). The code is sent to the bot as
// `/link CODE` and works once, for ten minutes.

import { type RuntimeConfig, restUrl } from './runtimeConfig';

export interface LinkCode {
  code: string;
  expiresAt: Date;
}

export type LinkCodeResult = { kind: 'code'; code: LinkCode } | { kind: 'error'; message: string };

type Fetch = (url: string, init: RequestInit) => Promise<Response>;

/** Parses the answer's body; `null` when it is not a link code. */
export function parseLinkCode(body: unknown): LinkCode | null {
  if (typeof body !== 'object' || body === null) return null;
  const { code, expiresAt } = body as Record<string, unknown>;
  if (typeof code !== 'string' || !/^[0-9]{6,12}$/.test(code) || typeof expiresAt !== 'string') return null;
  const expires = new Date(expiresAt);
  return Number.isNaN(expires.getTime()) ? null : { code, expiresAt: expires };
}

/** Asks the server for a new code. Never throws: failures come back as a message to show. */
export async function requestLinkCode(
  config: RuntimeConfig,
  token: string,
  pageHref: string,
  fetchImpl: Fetch = fetch,
): Promise<LinkCodeResult> {
  let response: Response;
  try {
    response = await fetchImpl(restUrl(config, '/api/telegram/link-code', pageHref), {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}` },
      cache: 'no-store',
    });
  } catch {
    return { kind: 'error', message: 'Could not reach the server.' };
  }
  const body: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const message = typeof body === 'object' && body !== null ? (body as Record<string, unknown>).message : undefined;
    return { kind: 'error', message: typeof message === 'string' ? message : `The server answered HTTP ${response.status}.` };
  }
  const code = parseLinkCode(body);
  return code === null ? { kind: 'error', message: 'The server sent a link code this page does not understand.' } : { kind: 'code', code };
}
