import { describe, expect, it } from 'vitest';
import type { RuntimeConfig } from './runtimeConfig';
import { parseLinkCode, requestLinkCode } from './telegramLink';

const config: RuntimeConfig = { version: 1, apiUrl: 'https://api.example.com', websocketUrl: 'wss://ws.example.com', auth: { kind: 'token' } };

function answering(status: number, body: unknown) {
  const calls: { url: string; init: RequestInit }[] = [];
  const fetchImpl = async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    return new Response(JSON.stringify(body), { status });
  };
  return { calls, fetchImpl };
}

describe('parseLinkCode', () => {
  it('accepts a code of digits with its expiry', () => {
    expect(parseLinkCode({ code: '01234567', expiresAt: '2026-11-21T10:10:00.000Z' })).toEqual({
      code: '01234567',
      expiresAt: new Date('2026-11-21T10:10:00.000Z'),
    });
  });

  it('refuses anything else', () => {
    for (const body of [null, 'x', { code: 1234567, expiresAt: 'x' }, { code: '<b>', expiresAt: '2026-11-21T10:10:00Z' }, { code: '12345678', expiresAt: 'soon' }]) {
      expect(parseLinkCode(body)).toBeNull();
    }
  });
});

describe('requestLinkCode', () => {
  it('posts with the token to the API and returns the code', async () => {
    const { calls, fetchImpl } = answering(201, { code: '76543210', expiresAt: '2026-11-21T10:10:00.000Z' });
    const result = await requestLinkCode(config, 'tok', 'https://app.example.com/', fetchImpl);
    expect(result).toEqual({ kind: 'code', code: { code: '76543210', expiresAt: new Date('2026-11-21T10:10:00.000Z') } });
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({
      url: 'https://api.example.com/api/telegram/link-code',
      init: { method: 'POST', headers: { Authorization: 'Bearer tok' } },
    });
  });

  it('reports the server’s message, an unreadable answer and an unreachable server', async () => {
    const refused = answering(500, { code: 'internal', message: 'storage failed; please retry' });
    expect(await requestLinkCode(config, 't', 'https://a/', refused.fetchImpl)).toEqual({ kind: 'error', message: 'storage failed; please retry' });
    const odd = answering(201, { nope: true });
    expect((await requestLinkCode(config, 't', 'https://a/', odd.fetchImpl)).kind).toBe('error');
    const down = async () => {
      throw new TypeError('network');
    };
    expect(await requestLinkCode(config, 't', 'https://a/', down)).toEqual({ kind: 'error', message: 'Could not reach the server.' });
  });
});
