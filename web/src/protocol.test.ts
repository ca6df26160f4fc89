import { describe, expect, it } from 'vitest';
import {
  ID_PATTERN,
  parseApiError,
  parseConversationSettings,
  parseConversationsResponse,
  parseSearchResponse,
  parseLinkCode,
  parseMessagesResponse,
  parseServerFrame,
  parseSettingsResponse,
} from './protocol';

describe('parseServerFrame', () => {
  it("reads a command's notice, with the conversation /new moved to, and refuses a malformed one", () => {
    expect(parseServerFrame('{"type":"notice","conversationId":"default","clientMessageId":"c1","text":"Model: m"}')).toEqual({
      type: 'notice',
      conversationId: 'default',
      clientMessageId: 'c1',
      text: 'Model: m',
    });
    expect(
      parseServerFrame('{"type":"notice","conversationId":"default","clientMessageId":"c2","text":"New","newConversationId":"c-9"}'),
    ).toMatchObject({ newConversationId: 'c-9' });
    expect(parseServerFrame('{"type":"notice","conversationId":"default","text":"no client id"}')).toBeNull();
    expect(
      parseServerFrame('{"type":"notice","conversationId":"default","clientMessageId":"c3","text":"x","newConversationId":"a b"}'),
    ).toBeNull();
  });

  it("reads a voice note's transcript frame and an audio attachment with its transcript", () => {
    expect(parseServerFrame('{"type":"transcript","conversationId":"c","messageId":"m1","attachmentId":"a1","text":"hi"}')).toEqual({
      type: 'transcript',
      conversationId: 'c',
      messageId: 'm1',
      attachmentId: 'a1',
      text: 'hi',
    });
    expect(parseServerFrame('{"type":"transcript","conversationId":"c","messageId":"m1","text":"hi"}')).toBeNull();
    const audio = { id: 'a1', name: 'v.ogg', mediaType: 'audio/ogg', size: 5, kind: 'audio', createdAt: 't', transcript: 'hi' };
    const history = { messages: [{ id: 'm1', role: 'user', content: '', createdAt: 't', channel: 'telegram', attachments: [audio] }] };
    expect(parseMessagesResponse(history)?.[0]?.attachments).toEqual([audio]);
    const noTranscript = { ...audio, transcript: undefined };
    expect(parseMessagesResponse({ messages: [{ ...history.messages[0], attachments: [noTranscript] }] })?.[0]?.attachments).toEqual([
      { id: 'a1', name: 'v.ogg', mediaType: 'audio/ogg', size: 5, kind: 'audio', createdAt: 't' },
    ]);
  });

  it('reads every server frame of the protocol', () => {
    expect(parseServerFrame('{"type":"ack","clientMessageId":"c1","conversationId":"default","messageId":"m1"}')).toEqual({
      type: 'ack',
      clientMessageId: 'c1',
      conversationId: 'default',
      messageId: 'm1',
    });
    expect(parseServerFrame('{"type":"status","conversationId":"default","status":"starting"}')).toEqual({
      type: 'status',
      conversationId: 'default',
      status: 'starting',
    });
    expect(parseServerFrame('{"type":"delta","conversationId":"default","messageId":"m2","text":"He"}')).toEqual({
      type: 'delta',
      conversationId: 'default',
      messageId: 'm2',
      text: 'He',
      replace: false,
    });
    expect(parseServerFrame('{"type":"delta","conversationId":"default","messageId":"m2","text":"Hello","replace":true}')).toMatchObject({
      text: 'Hello',
      replace: true,
    });
    expect(
      parseServerFrame(
        '{"type":"message","conversationId":"default","messageId":"m2","role":"assistant","content":"Hello",' +
          '"usage":{"inputTokens":12,"outputTokens":3},"costUsd":null,"durationMs":850}',
      ),
    ).toEqual({
      type: 'message',
      conversationId: 'default',
      messageId: 'm2',
      role: 'assistant',
      content: 'Hello',
      usage: { inputTokens: 12, outputTokens: 3 },
      costUsd: null,
      durationMs: 850,
    });
    expect(parseServerFrame('{"type":"error","code":"cancelled","message":"Cancelled.","conversationId":"default"}')).toEqual({
      type: 'error',
      code: 'cancelled',
      message: 'Cancelled.',
      conversationId: 'default',
    });
    expect(parseServerFrame('{"type":"pong"}')).toEqual({ type: 'pong' });
  });

  it('keeps a numeric cost and ignores fields it does not know', () => {
    const frame = parseServerFrame(
      '{"type":"message","conversationId":"c","messageId":"m","role":"assistant","content":"x",' +
        '"usage":{"inputTokens":1,"outputTokens":2},"costUsd":0.0012,"durationMs":5,"future":true}',
    );
    expect(frame).toMatchObject({ costUsd: 0.0012 });
    expect(frame).not.toHaveProperty('future');
  });

  it('reads tool starts and ends, and the activity of a final message', () => {
    expect(
      parseServerFrame(
        '{"type":"activity","conversationId":"c","messageId":"m","toolId":"toolu_1","name":"exec","summary":"ls -la","status":"running"}',
      ),
    ).toEqual({
      type: 'activity',
      conversationId: 'c',
      messageId: 'm',
      toolId: 'toolu_1',
      name: 'exec',
      summary: 'ls -la',
      status: 'running',
    });
    expect(
      parseServerFrame(
        '{"type":"activity","conversationId":"c","messageId":"m","toolId":"toolu_1","name":"exec","summary":"ls -la","status":"error","durationMs":12}',
      ),
    ).toMatchObject({ status: 'error', durationMs: 12 });
    const activity = { workedMs: 3400, toolCount: 1, tools: [{ toolId: 't', name: 'exec', summary: 'ls', status: 'ok', durationMs: 5 }] };
    const message = (extra: unknown) =>
      parseServerFrame(
        JSON.stringify({
          type: 'message',
          conversationId: 'c',
          messageId: 'm',
          role: 'assistant',
          content: 'x',
          usage: { inputTokens: 1, outputTokens: 2 },
          costUsd: null,
          durationMs: 5,
          activity: extra,
        }),
      );
    expect(message(activity)).toMatchObject({ activity });
    // A malformed activity is an extra: dropped, the message kept.
    expect(message({ workedMs: 'long', toolCount: 1, tools: [] })).not.toHaveProperty('activity');
    expect(message({ ...activity, tools: [{ name: 'exec' }] })).toMatchObject({ content: 'x' });
    expect(message({ ...activity, tools: [{ name: 'exec' }] })).not.toHaveProperty('activity');
  });

  it('keeps error codes it does not know yet, so people still see the message', () => {
    expect(parseServerFrame('{"type":"error","code":"quota_exceeded","message":"Out of quota."}')).toEqual({
      type: 'error',
      code: 'quota_exceeded',
      message: 'Out of quota.',
    });
  });

  it.each([
    ['not JSON', 'hello'],
    ['truncated JSON', '{"type":"ack"'],
    ['a JSON array', '[{"type":"pong"}]'],
    ['a JSON string', '"pong"'],
    ['null', 'null'],
    ['no type', '{"conversationId":"default"}'],
    ['an unknown type', '{"type":"telemetry"}'],
    ['a client frame', '{"action":"ping"}'],
    ['an ack without messageId', '{"type":"ack","clientMessageId":"c1","conversationId":"default"}'],
    ['an ack with an empty messageId', '{"type":"ack","clientMessageId":"c1","conversationId":"default","messageId":""}'],
    ['an unknown status', '{"type":"status","conversationId":"default","status":"sleeping"}'],
    ['a delta with numeric text', '{"type":"delta","conversationId":"default","messageId":"m","text":5}'],
    [
      'a message from the user role',
      '{"type":"message","conversationId":"c","messageId":"m","role":"user","content":"x","usage":{"inputTokens":1,"outputTokens":1},"costUsd":null,"durationMs":1}',
    ],
    [
      'a message without usage',
      '{"type":"message","conversationId":"c","messageId":"m","role":"assistant","content":"x","costUsd":null,"durationMs":1}',
    ],
    [
      'a message with negative tokens',
      '{"type":"message","conversationId":"c","messageId":"m","role":"assistant","content":"x","usage":{"inputTokens":-1,"outputTokens":1},"costUsd":null,"durationMs":1}',
    ],
    [
      'a message with a string cost',
      '{"type":"message","conversationId":"c","messageId":"m","role":"assistant","content":"x","usage":{"inputTokens":1,"outputTokens":1},"costUsd":"0.1","durationMs":1}',
    ],
    [
      'a message without cost',
      '{"type":"message","conversationId":"c","messageId":"m","role":"assistant","content":"x","usage":{"inputTokens":1,"outputTokens":1},"durationMs":1}',
    ],
    [
      'an activity without toolId',
      '{"type":"activity","conversationId":"c","messageId":"m","name":"exec","summary":"ls","status":"running"}',
    ],
    [
      'an activity with an unknown status',
      '{"type":"activity","conversationId":"c","messageId":"m","toolId":"t","name":"exec","summary":"ls","status":"paused"}',
    ],
    [
      'an activity with a negative duration',
      '{"type":"activity","conversationId":"c","messageId":"m","toolId":"t","name":"exec","summary":"ls","status":"ok","durationMs":-1}',
    ],
    ['an error without message', '{"type":"error","code":"internal"}'],
    ['an error with a numeric clientMessageId', '{"type":"error","code":"internal","message":"x","clientMessageId":7}'],
  ])('rejects %s', (_name, data) => {
    expect(parseServerFrame(data)).toBeNull();
  });
});

describe('parseMessagesResponse', () => {
  it('reads the stored messages in order', () => {
    const body = {
      messages: [
        { id: 'a', role: 'user', content: 'hi', createdAt: '2026-11-21T13:35:22.123Z', channel: 'web' },
        { id: 'b', role: 'assistant', content: 'hello', createdAt: '2026-11-21T13:35:23.000Z', channel: 'web' },
      ],
    };
    expect(parseMessagesResponse(body)?.map((m) => [m.id, m.role, m.content])).toEqual([
      ['a', 'user', 'hi'],
      ['b', 'assistant', 'hello'],
    ]);
  });

  it('rejects a body of another shape', () => {
    expect(parseMessagesResponse(null)).toBeNull();
    expect(parseMessagesResponse({ items: [] })).toBeNull();
    expect(parseMessagesResponse({ messages: [{ id: 'a', role: 'system', content: 'x', createdAt: 't', channel: 'web' }] })).toBeNull();
    expect(parseMessagesResponse({ messages: [{ id: 'a', role: 'user', content: 'x', createdAt: 't' }] })).toBeNull();
  });
});

describe('parseMessagesResponse activity', () => {
  it("keeps a reply's stored activity and reads replies without one", () => {
    const activity = {
      workedMs: 1200,
      toolCount: 2,
      tools: [{ toolId: 'a', name: 'exec', summary: 'echo a', status: 'ok', durationMs: 3 }],
    };
    const messages = parseMessagesResponse({
      messages: [
        { id: 'a', role: 'assistant', content: 'old', createdAt: '2026-11-21T13:35:22.123Z', channel: 'web' },
        { id: 'b', role: 'assistant', content: 'worked', createdAt: '2026-11-21T13:35:23.000Z', channel: 'web', activity },
      ],
    });
    expect(messages?.map((m) => m.activity)).toEqual([undefined, activity]);
  });
});

describe('parseMessagesResponse usage', () => {
  it('keeps usage and cost of assistant messages and drops malformed ones', () => {
    const base = { id: 'b', role: 'assistant', content: 'hello', createdAt: 't', channel: 'web' };
    const body = {
      messages: [
        { ...base, usage: { inputTokens: 10, outputTokens: 2 }, costUsd: 0.002 },
        { ...base, id: 'c', usage: { inputTokens: 10, outputTokens: 2 }, costUsd: null },
        { ...base, id: 'd', usage: { inputTokens: 'ten' }, costUsd: 'free' },
      ],
    };
    const messages = parseMessagesResponse(body);
    expect(messages?.map((m) => [m.usage, m.costUsd])).toEqual([
      [{ inputTokens: 10, outputTokens: 2 }, 0.002],
      [{ inputTokens: 10, outputTokens: 2 }, null],
      [undefined, undefined],
    ]);
    expect(messages?.[2]).not.toHaveProperty('usage');
  });
});

describe('parseConversationsResponse', () => {
  it('reads the list and rejects another shape', () => {
    const c = { id: 'c1', title: 'Plans', updatedAt: '2026-11-21T13:35:22.123Z', messageCount: 4 };
    expect(parseConversationsResponse({ conversations: [c] })).toEqual([c]);
    expect(parseConversationsResponse({ conversations: [{ ...c, messageCount: -1 }] })).toBeNull();
    expect(parseConversationsResponse({ conversations: [{ ...c, title: null }] })).toBeNull();
    expect(parseConversationsResponse([])).toBeNull();
  });
});

describe('parseSearchResponse', () => {
  const hit = {
    conversationId: 'c1',
    title: 'Wildlife',
    messageId: '0190-m1',
    role: 'assistant',
    snippet: [
      { text: 'Where do ', match: false },
      { text: 'quokkas', match: true },
    ],
    createdAt: '2026-11-21T13:35:22.123Z',
  };

  it('reads the hits', () => {
    expect(parseSearchResponse({ hits: [hit] })).toEqual([hit]);
    expect(parseSearchResponse({ hits: [] })).toEqual([]);
  });

  it('rejects a hit of another shape rather than showing part of it', () => {
    for (const bad of [
      { ...hit, role: 'system' },
      { ...hit, conversationId: '' },
      { ...hit, snippet: 'Where do quokkas' },
      { ...hit, snippet: [{ text: 'quokkas', match: 'yes' }] },
      { ...hit, snippet: [{ match: true }] },
    ]) {
      expect(parseSearchResponse({ hits: [bad] })).toBeNull();
    }
    expect(parseSearchResponse({ results: [] })).toBeNull();
  });
});

describe('parseSettingsResponse', () => {
  const body = {
    model: { provider: 'bedrock', model: 'us.anthropic.claude-opus-4-6-v1', region: 'eu-west-1' },
    speech: { provider: 'openai-compatible', model: 'whisper-1', baseUrl: 'http://whisper:9000/v1' },
    defaultModel: 'anthropic/claude-sonnet-5',
    apiKeys: { anthropic: true, openai: false, deepseek: false, bedrock: false, 'openai-compatible': false, groq: true },
    telegram: { linked: [42, 43] },
    browser: false,
  };

  it('reads the settings', () => {
    expect(parseSettingsResponse(body)).toEqual(body);
    expect(parseSettingsResponse({ ...body, browser: undefined })?.browser).toBe(true);
    expect(parseSettingsResponse({ ...body, speech: undefined })?.speech).toBeNull();
    expect(parseSettingsResponse({ ...body, speech: null })?.speech).toBeNull();
    expect(parseSettingsResponse({ ...body, model: null, defaultModel: null })).toMatchObject({ model: null, defaultModel: null });
  });

  it('takes a key the server does not mention as not stored', () => {
    expect(parseSettingsResponse({ ...body, apiKeys: {} })?.apiKeys).toEqual({
      anthropic: false,
      openai: false,
      deepseek: false,
      bedrock: false,
      'openai-compatible': false,
      groq: false,
    });
  });

  it.each([
    ['an unknown provider', { ...body, model: { provider: 'mistral', model: 'x' } }],
    ['a model without a name', { ...body, model: { provider: 'openai' } }],
    ['a numeric default', { ...body, defaultModel: 5 }],
    ['Telegram ids as strings', { ...body, telegram: { linked: ['42'] } }],
    ['no apiKeys', { ...body, apiKeys: undefined }],
    ['an unknown speech provider', { ...body, speech: { provider: 'deepgram' } }],
    ['a browser switch that is not a boolean', { ...body, browser: 'off' }],
  ])('rejects %s', (_name, value) => {
    expect(parseSettingsResponse(value)).toBeNull();
  });
});

describe('parseLinkCode', () => {
  it('accepts a code of digits with its expiry', () => {
    expect(parseLinkCode({ code: '01234567', expiresAt: '2026-11-21T10:10:00.000Z' })).toEqual({
      code: '01234567',
      expiresAt: new Date('2026-11-21T10:10:00.000Z'),
    });
  });

  it('refuses anything else', () => {
    for (const body of [
      null,
      'x',
      { code: 1234567, expiresAt: 'x' },
      { code: '<b>', expiresAt: '2026-11-21T10:10:00Z' },
      { code: '12345678', expiresAt: 'soon' },
    ]) {
      expect(parseLinkCode(body)).toBeNull();
    }
  });
});

describe('parseConversationSettings', () => {
  const view = {
    model: 'fake-b',
    thinking: 'high',
    effectiveModel: 'anthropic/fake-b',
    modelSource: 'conversation',
    defaultModel: 'fake-model',
    models: [
      { id: 'fake-model', default: true },
      { id: 'fake-b', default: false },
    ],
    thinkingLevels: ['off', 'minimal', 'low', 'medium', 'high'],
  };

  it('reads the view the server sends, with nulls for the defaults', () => {
    expect(parseConversationSettings(view)).toEqual(view);
    const defaults = {
      ...view,
      model: null,
      thinking: null,
      effectiveModel: null,
      modelSource: 'unconfigured',
      defaultModel: null,
      models: [],
    };
    expect(parseConversationSettings(defaults)).toEqual(defaults);
  });

  it('refuses unknown levels and sources and malformed choices', () => {
    for (const bad of [
      { ...view, thinking: 'hard' },
      { ...view, modelSource: 'elsewhere' },
      { ...view, models: [{ id: 'x' }] },
      { ...view, thinkingLevels: ['high', 'max'] },
      { ...view, model: 7 },
      null,
      [],
    ]) {
      expect(parseConversationSettings(bad)).toBeNull();
    }
  });
});

describe('parseApiError', () => {
  it('reads {code, message} and nothing else', () => {
    expect(parseApiError({ code: 'unauthorized', message: 'Wrong token.' })).toEqual({
      code: 'unauthorized',
      message: 'Wrong token.',
    });
    expect(parseApiError({ error: 'x' })).toBeNull();
  });
});

describe('ID_PATTERN', () => {
  it('accepts 1 to 64 letters, digits, _ and -', () => {
    expect(ID_PATTERN.test('default')).toBe(true);
    expect(ID_PATTERN.test('a'.repeat(64))).toBe(true);
    expect(ID_PATTERN.test('a'.repeat(65))).toBe(false);
    expect(ID_PATTERN.test('')).toBe(false);
    expect(ID_PATTERN.test('a b')).toBe(false);
  });
});
