// The wire protocol of docs/protocol.md as TypeScript types, plus parsers that check the shape of what the
// server sends. Nothing from the network reaches the chat state without going through a parser here, so the
// reducer can trust its input.

/** Conversation ids and client message ids. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** Largest message the server accepts, in bytes of UTF-8. */
export const MAX_MESSAGE_BYTES = 32_768;

export type ErrorCode =
  | 'bad_request'
  | 'unauthorized'
  | 'too_large'
  | 'invalid_id'
  | 'no_provider'
  | 'llm_error'
  | 'agent_crashed'
  | 'timeout'
  | 'cancelled'
  | 'conflict'
  | 'not_found'
  | 'internal';

export type TurnStatus = 'queued' | 'starting' | 'running' | 'idle';

// ---- client → server ----

export interface SendMessageFrame {
  action: 'sendMessage';
  conversationId: string;
  message: string;
  clientMessageId: string;
}

export interface CancelFrame {
  action: 'cancel';
  conversationId: string;
}

export interface PingFrame {
  action: 'ping';
}

export type ClientFrame = SendMessageFrame | CancelFrame | PingFrame;

// ---- server → client ----

export interface AckFrame {
  type: 'ack';
  clientMessageId: string;
  conversationId: string;
  messageId: string;
}

export interface StatusFrame {
  type: 'status';
  conversationId: string;
  status: TurnStatus;
}

export interface DeltaFrame {
  type: 'delta';
  conversationId: string;
  messageId: string;
  text: string;
  /** Rare: `text` is the whole reply so far and replaces what was streamed. */
  replace: boolean;
}

export interface Usage {
  inputTokens: number;
  outputTokens: number;
}

export interface MessageFrame {
  type: 'message';
  conversationId: string;
  messageId: string;
  role: 'assistant';
  content: string;
  usage: Usage;
  costUsd: number | null;
  durationMs: number;
}

export interface ErrorFrame {
  type: 'error';
  // A code this page does not know yet is still shown to people, so any string is kept.
  code: ErrorCode | (string & {});
  message: string;
  clientMessageId?: string;
  conversationId?: string;
}

export interface PongFrame {
  type: 'pong';
}

export type ServerFrame = AckFrame | StatusFrame | DeltaFrame | MessageFrame | ErrorFrame | PongFrame;

// ---- REST ----

export interface StoredMessage {
  id: string;
  role: 'user' | 'assistant';
  content: string;
  createdAt: string;
  channel: 'web' | 'telegram' | (string & {});
}

export interface ApiError {
  code: ErrorCode | (string & {});
  message: string;
}

// ---- parsers ----

type Fields = Record<string, unknown>;

function isObject(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isString(value: unknown): value is string {
  return typeof value === 'string';
}

function isId(value: unknown): value is string {
  return isString(value) && value.length > 0;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

const TURN_STATUSES: readonly string[] = ['queued', 'starting', 'running', 'idle'];

/**
 * Parses one WebSocket text frame from the server. Returns null for anything that is not a well-formed
 * server frame (bad JSON, unknown `type`, a missing or mistyped field); extra fields are ignored so that a
 * newer server does not break an older page.
 */
export function parseServerFrame(data: string): ServerFrame | null {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return null;
  }
  if (!isObject(value)) return null;
  const f = value;
  switch (f.type) {
    case 'ack':
      return isId(f.clientMessageId) && isId(f.conversationId) && isId(f.messageId)
        ? { type: 'ack', clientMessageId: f.clientMessageId, conversationId: f.conversationId, messageId: f.messageId }
        : null;
    case 'status':
      return isId(f.conversationId) && isString(f.status) && TURN_STATUSES.includes(f.status)
        ? { type: 'status', conversationId: f.conversationId, status: f.status as TurnStatus }
        : null;
    case 'delta':
      return isId(f.conversationId) && isId(f.messageId) && isString(f.text)
        ? { type: 'delta', conversationId: f.conversationId, messageId: f.messageId, text: f.text, replace: f.replace === true }
        : null;
    case 'message': {
      const usage = f.usage;
      const costOk = f.costUsd === null || (typeof f.costUsd === 'number' && Number.isFinite(f.costUsd));
      if (
        !isId(f.conversationId) ||
        !isId(f.messageId) ||
        f.role !== 'assistant' ||
        !isString(f.content) ||
        !isObject(usage) ||
        !isCount(usage.inputTokens) ||
        !isCount(usage.outputTokens) ||
        !costOk ||
        !isCount(f.durationMs)
      ) {
        return null;
      }
      return {
        type: 'message',
        conversationId: f.conversationId,
        messageId: f.messageId,
        role: 'assistant',
        content: f.content,
        usage: { inputTokens: usage.inputTokens, outputTokens: usage.outputTokens },
        costUsd: f.costUsd as number | null,
        durationMs: f.durationMs,
      };
    }
    case 'error': {
      if (!isId(f.code) || !isString(f.message)) return null;
      if (f.clientMessageId !== undefined && !isId(f.clientMessageId)) return null;
      if (f.conversationId !== undefined && !isId(f.conversationId)) return null;
      const frame: ErrorFrame = { type: 'error', code: f.code, message: f.message };
      if (f.clientMessageId !== undefined) frame.clientMessageId = f.clientMessageId;
      if (f.conversationId !== undefined) frame.conversationId = f.conversationId;
      return frame;
    }
    case 'pong':
      return { type: 'pong' };
    default:
      return null;
  }
}

/** Parses the body of `GET /api/conversations/{id}/messages`; null if it is not `{"messages":[...]}`. */
export function parseMessagesResponse(body: unknown): StoredMessage[] | null {
  if (!isObject(body) || !Array.isArray(body.messages)) return null;
  const messages: StoredMessage[] = [];
  for (const m of body.messages) {
    if (
      !isObject(m) ||
      !isId(m.id) ||
      (m.role !== 'user' && m.role !== 'assistant') ||
      !isString(m.content) ||
      !isString(m.createdAt) ||
      !isString(m.channel)
    ) {
      return null;
    }
    messages.push({ id: m.id, role: m.role, content: m.content, createdAt: m.createdAt, channel: m.channel });
  }
  return messages;
}

/** Parses a REST error body `{"code","message"}`; null if the body has another shape. */
export function parseApiError(body: unknown): ApiError | null {
  return isObject(body) && isId(body.code) && isString(body.message) ? { code: body.code, message: body.message } : null;
}
