import { describe, expect, it } from 'vitest';
import { ID_PATTERN, parseApiError, parseMessagesResponse, parseServerFrame } from './protocol';

describe('parseServerFrame', () => {
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
    expect(
      parseServerFrame('{"type":"delta","conversationId":"default","messageId":"m2","text":"Hello","replace":true}'),
    ).toMatchObject({ text: 'Hello', replace: true });
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
