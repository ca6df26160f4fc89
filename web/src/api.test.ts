import { describe, expect, it, vi } from 'vitest';
import { createApi } from './api';
import type { RuntimeConfig } from './runtimeConfig';

const config: RuntimeConfig = {
  version: 1,
  apiUrl: 'https://api.example.com',
  websocketUrl: 'wss://ws.example.com',
  auth: { kind: 'token' },
};

interface Call {
  url: string;
  init: RequestInit;
}

function answering(status: number, body: unknown, token: () => Promise<string> = () => Promise.resolve('tok')) {
  const calls: Call[] = [];
  const refused = vi.fn();
  const fetchImpl = (url: string, init: RequestInit) => {
    calls.push({ url, init });
    return Promise.resolve(new Response(body === undefined ? null : JSON.stringify(body), { status }));
  };
  const api = createApi(
    config,
    () => ({ freshToken: token, refused }),
    () => 'https://app.example.com/',
    fetchImpl,
  );
  return { api, calls, refused };
}

const settingsBody = {
  model: { provider: 'openai-compatible', model: 'm1', baseUrl: 'http://127.0.0.1:9/v1' },
  speech: { provider: 'groq' },
  defaultModel: 'anthropic/claude-sonnet-5',
  apiKeys: { anthropic: false, openai: true, deepseek: false, bedrock: false, 'openai-compatible': true, groq: true },
  telegram: { linked: [12345] },
  browser: true,
};

describe('createApi', () => {
  it('calls the API origin with a fresh bearer token', async () => {
    let n = 0;
    const { api, calls } = answering(200, { conversations: [] }, () => Promise.resolve(`tok-${++n}`));
    await api.listConversations();
    await api.listConversations();
    expect(calls.map((c) => [c.url, (c.init.headers as Record<string, string>).Authorization])).toEqual([
      ['https://api.example.com/api/conversations', 'Bearer tok-1'],
      ['https://api.example.com/api/conversations', 'Bearer tok-2'],
    ]);
  });

  it('reads a page of messages before a message id', async () => {
    const { api, calls } = answering(200, {
      messages: [
        {
          id: 'a',
          role: 'assistant',
          content: 'x',
          createdAt: 't',
          channel: 'web',
          usage: { inputTokens: 3, outputTokens: 4 },
          costUsd: 0.01,
        },
      ],
    });
    const result = await api.messages('conv/1', 50, '0190-abc');
    expect(calls[0]?.url).toBe('https://api.example.com/api/conversations/conv%2F1/messages?limit=50&before=0190-abc');
    expect(result).toEqual({
      ok: true,
      value: {
        messages: [
          {
            id: 'a',
            role: 'assistant',
            content: 'x',
            createdAt: 't',
            channel: 'web',
            usage: { inputTokens: 3, outputTokens: 4 },
            costUsd: 0.01,
          },
        ],
        versions: [],
      },
    });
  });

  it('renames with PATCH and a JSON body, deletes with DELETE', async () => {
    const { api, calls } = answering(204, undefined);
    expect(await api.renameConversation('c1', 'Trip plans')).toEqual({ ok: true, value: null });
    expect(await api.deleteConversation('c1')).toEqual({ ok: true, value: null });
    expect(calls.map((c) => [c.init.method, c.url, c.init.body])).toEqual([
      ['PATCH', 'https://api.example.com/api/conversations/c1', '{"title":"Trip plans"}'],
      ['DELETE', 'https://api.example.com/api/conversations/c1', undefined],
    ]);
    expect((calls[0]?.init.headers as Record<string, string>)['Content-Type']).toBe('application/json');
  });

  it('saves settings with PUT and returns what the server stored', async () => {
    const { api, calls } = answering(200, settingsBody);
    const result = await api.saveSettings({ model: null, apiKeys: { openai: 'sk-1', anthropic: null } });
    expect(calls[0]?.init.method).toBe('PUT');
    expect(JSON.parse(calls[0]?.init.body as string)).toEqual({ model: null, apiKeys: { openai: 'sk-1', anthropic: null } });
    expect(result).toEqual({ ok: true, value: settingsBody });
  });

  it('searches with the query in the URL and reads the hits, or the reason a query is refused', async () => {
    const hit = {
      conversationId: 'c1',
      title: 'Desserts',
      messageId: 'm1',
      role: 'user',
      snippet: [{ text: 'crème', match: true }],
      createdAt: 't',
    };
    const { api, calls } = answering(200, { hits: [hit] });
    expect(await api.search('crème brûlée & co')).toEqual({ ok: true, value: [hit] });
    expect(calls[0]?.url).toBe('https://api.example.com/api/search?q=cr%C3%A8me+br%C3%BBl%C3%A9e+%26+co');
    const refused = answering(400, { code: 'bad_request', message: 'the search needs at least one letter or digit' });
    expect(await refused.api.search('?!')).toEqual({ ok: false, status: 400, message: 'the search needs at least one letter or digit' });
  });

  it('posts for a Telegram link code and deletes a link by Telegram id', async () => {
    const code = answering(201, { code: '76543210', expiresAt: '2026-11-21T10:10:00.000Z' });
    expect(await code.api.linkCode()).toEqual({ ok: true, value: { code: '76543210', expiresAt: new Date('2026-11-21T10:10:00.000Z') } });
    expect(code.calls[0]).toMatchObject({ url: 'https://api.example.com/api/telegram/link-code', init: { method: 'POST' } });
    const unlink = answering(204, undefined);
    expect(await unlink.api.unlinkTelegram(12345)).toEqual({ ok: true, value: null });
    expect(unlink.calls[0]).toMatchObject({ url: 'https://api.example.com/api/telegram/links/12345', init: { method: 'DELETE' } });
  });

  it('reports the server’s message, an unreadable answer and an unreachable server', async () => {
    const refused = answering(400, { code: 'bad_request', message: 'baseUrl is required for an OpenAI-compatible provider' });
    expect(await refused.api.saveSettings({ model: { provider: 'openai-compatible', model: 'x' } })).toEqual({
      ok: false,
      status: 400,
      message: 'baseUrl is required for an OpenAI-compatible provider',
    });
    const odd = answering(200, { nope: true });
    expect(await odd.api.settings()).toMatchObject({ ok: false, message: 'The server sent an answer this page does not understand.' });
    const notJson = answering(502, undefined);
    expect(await notJson.api.settings()).toMatchObject({ ok: false, status: 502, message: 'The server answered HTTP 502.' });
    const api = createApi(
      config,
      () => ({ freshToken: () => Promise.resolve('t'), refused: () => {} }),
      () => 'https://a/',
      () => Promise.reject(new TypeError('network')),
    );
    expect(await api.listConversations()).toEqual({ ok: false, status: 0, message: 'Could not reach the server.' });
  });

  it('ends the session on a 401 and when the token cannot be renewed', async () => {
    const wrong = answering(401, { code: 'unauthorized', message: 'wrong token' });
    expect(await wrong.api.listConversations()).toMatchObject({ ok: false, status: 401 });
    expect(wrong.refused).toHaveBeenCalledTimes(1);
    const expired = answering(200, { conversations: [] }, () => Promise.reject(new Error('expired')));
    expect(await expired.api.listConversations()).toMatchObject({ ok: false, status: 401 });
    expect(expired.refused).toHaveBeenCalledTimes(1);
    expect(expired.calls).toEqual([]);
  });
});
