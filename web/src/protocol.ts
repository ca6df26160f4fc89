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
  | 'forbidden'
  | 'too_large'
  | 'invalid_id'
  | 'no_provider'
  | 'llm_error'
  | 'agent_crashed'
  | 'timeout'
  | 'cancelled'
  | 'conflict'
  | 'not_found'
  | 'limit_reached'
  | 'unsupported_type'
  | 'corrupt_file'
  | 'quota_exceeded'
  | 'transcription_failed'
  | 'invalid_skill'
  | 'internal';

/** The most attachments one message may carry. */
export const MAX_ATTACHMENTS = 10;
/** The largest image and the largest other file the server takes, in bytes (docs/protocol.md, "Attachments"). */
export const MAX_IMAGE_BYTES = 10 * 1024 * 1024;
export const MAX_FILE_BYTES = 20 * 1024 * 1024;
/** What the file picker offers: the server's accepted types (it checks the bytes itself). */
export const ACCEPTED_FILES =
  'image/png,image/jpeg,image/gif,image/webp,application/pdf,text/*,.md,.csv,.json,.yaml,.yml,.toml,.xml,.sql,.sh,.log,' +
  'audio/ogg,audio/mpeg,audio/mp4,audio/x-m4a,audio/wav,audio/webm,.ogg,.opus,.mp3,.m4a,.wav,.webm';

export type TurnStatus = 'queued' | 'starting' | 'running' | 'idle';

// ---- client → server ----

export interface SendMessageFrame {
  action: 'sendMessage';
  conversationId: string;
  message: string;
  clientMessageId: string;
  /** Ids of uploaded attachments that go with the message. */
  attachments?: string[];
}

export interface CancelFrame {
  action: 'cancel';
  conversationId: string;
}

export interface PingFrame {
  action: 'ping';
}

/** Answer the last user message again; `messageId` is the conversation's last reply (it becomes an earlier version). */
export interface RegenerateFrame {
  action: 'regenerate';
  conversationId: string;
  messageId: string;
  clientMessageId: string;
}

/** Replace the last user message `messageId` (and its reply) by `message`, and answer it. */
export interface EditMessageFrame {
  action: 'editMessage';
  conversationId: string;
  messageId: string;
  message: string;
  clientMessageId: string;
}

export type ClientFrame = SendMessageFrame | RegenerateFrame | EditMessageFrame | CancelFrame | PingFrame;

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

export type ToolStatus = 'running' | 'ok' | 'error';

/** One tool call of a turn: a start (`running`) or its end (`ok`/`error`, with the duration). */
export interface ToolActivity {
  /** Ties an end to its start; unique within the turn. */
  toolId: string;
  name: string;
  /** One line saying what the call does (command, URL, path); may be empty. */
  summary: string;
  status: ToolStatus;
  durationMs?: number;
}

export interface ActivityFrame extends ToolActivity {
  type: 'activity';
  conversationId: string;
  /** The id the reply will have, as on deltas. */
  messageId: string;
}

/** What the agent did during a turn, kept with its reply: "Worked for N s" and the tool lines. */
export interface TurnActivity {
  workedMs: number;
  toolCount: number;
  tools: ToolActivity[];
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
  /** Only when the turn called tools. */
  activity?: TurnActivity;
  /** Only when the agent attached files to its reply. */
  attachments?: Attachment[];
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

/** What was said in an audio attachment of the user's message `messageId`: the turn's prompt, stored with it. */
export interface TranscriptFrame {
  type: 'transcript';
  conversationId: string;
  messageId: string;
  attachmentId: string;
  text: string;
}

/** The answer to a chat command (`/help`, `/model`, ...), to the page that sent it; never stored. */
export interface NoticeFrame {
  type: 'notice';
  conversationId: string;
  clientMessageId: string;
  text: string;
  /** After `/new`: the conversation the user goes on in. */
  newConversationId?: string;
}

export type ServerFrame =
  AckFrame | StatusFrame | DeltaFrame | ActivityFrame | MessageFrame | ErrorFrame | PongFrame | NoticeFrame | TranscriptFrame;

// ---- REST ----

export interface StoredMessage {
  id: string;
  role: 'user' | 'assistant';
  content: string;
  createdAt: string;
  channel: 'web' | 'telegram' | (string & {});
  /** Assistant messages: what the turn used, when the server knows it. */
  usage?: Usage;
  /** Assistant messages: the turn's cost; null when the provider's prices are unknown. */
  costUsd?: number | null;
  /** Assistant messages whose turn called tools: what the agent did. */
  activity?: TurnActivity;
  /** User messages sent with attachments; assistant messages the agent attached files to. */
  attachments?: Attachment[];
}

/** An uploaded image or file (`POST /api/conversations/{id}/attachments`). */
export interface Attachment {
  id: string;
  name: string;
  mediaType: string;
  size: number;
  /** `image`: shown to the model; `file`: put in the agent's workspace; `audio`: transcribed, the words are the prompt. */
  kind: 'image' | 'file' | 'audio';
  createdAt: string;
  /** Audio: what was said in it, once transcribed. */
  transcript?: string;
}

export interface ConversationSummary {
  id: string;
  title: string;
  updatedAt: string;
  messageCount: number;
}

/** The LLM providers of `GET /api/settings`. */
export const PROVIDERS = ['anthropic', 'openai', 'deepseek', 'bedrock', 'openai-compatible', 'groq'] as const;
export type Provider = (typeof PROVIDERS)[number];

/** The speech-to-text endpoints of `GET /api/settings`; each uses the key stored for the provider of the same name. */
export const SPEECH_PROVIDERS = ['openai', 'groq', 'openai-compatible'] as const;
export type SpeechProvider = (typeof SPEECH_PROVIDERS)[number];

/** Which endpoint transcribes voice notes. */
export interface SpeechSettings {
  provider: SpeechProvider;
  /** The provider's default transcription model when absent. */
  model?: string;
  /** Only for `openai-compatible`, where it is required. */
  baseUrl?: string;
}

export interface ModelSettings {
  provider: Provider;
  model: string;
  /** Only for `openai-compatible`, where it is required. */
  baseUrl?: string;
  /** Only for `bedrock`; the deployment's region when absent. */
  region?: string;
}

/** `GET /api/settings` (and the answer to `PUT`). API keys are write-only: only whether one is stored. */
export interface Settings {
  /** null: the server's default model. */
  model: ModelSettings | null;
  /** null: OpenAI when an OpenAI key is stored, else Groq when a Groq key is. */
  speech: SpeechSettings | null;
  /** `provider/model` of the server's default, or null when the server has none. */
  defaultModel: string | null;
  apiKeys: Record<Provider, boolean>;
  telegram: { linked: number[] };
  /** Whether the agent may use its browser in the user's turns. */
  browser: boolean;
}

/** `PUT /api/settings`: an absent field is left as it is; `model: null` goes back to the server default. */
export interface SettingsUpdate {
  model?: ModelSettings | null;
  /** null: choose by the keys stored. */
  speech?: SpeechSettings | null;
  /** A string stores that key, null removes the stored one. */
  apiKeys?: Partial<Record<Provider, string | null>>;
  browser?: boolean;
}

/** `POST /api/telegram/link-code`: sent to the bot as `/link CODE`, it works once, for ten minutes. */
export interface LinkCode {
  code: string;
  expiresAt: Date;
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

function parseUsage(value: unknown): Usage | null {
  return isObject(value) && isCount(value.inputTokens) && isCount(value.outputTokens)
    ? { inputTokens: value.inputTokens, outputTokens: value.outputTokens }
    : null;
}

function isCost(value: unknown): value is number | null {
  return value === null || (typeof value === 'number' && Number.isFinite(value));
}

const TURN_STATUSES: readonly string[] = ['queued', 'starting', 'running', 'idle'];
const TOOL_STATUSES: readonly string[] = ['running', 'ok', 'error'] satisfies ToolStatus[];

/** A tool line (of an `activity` frame or a stored activity); null if malformed. */
function parseToolActivity(value: unknown): ToolActivity | null {
  if (
    !isObject(value) ||
    !isString(value.toolId) ||
    value.toolId === '' ||
    !isString(value.name) ||
    !isString(value.summary) ||
    !isString(value.status) ||
    !TOOL_STATUSES.includes(value.status) ||
    (value.durationMs !== undefined && !isCount(value.durationMs))
  ) {
    return null;
  }
  const tool: ToolActivity = { toolId: value.toolId, name: value.name, summary: value.summary, status: value.status as ToolStatus };
  if (value.durationMs !== undefined) tool.durationMs = value.durationMs;
  return tool;
}

/** A turn's activity; null if malformed (it is an optional extra: callers drop it rather than fail). */
function parseTurnActivity(value: unknown): TurnActivity | null {
  if (!isObject(value) || !isCount(value.workedMs) || !isCount(value.toolCount) || !Array.isArray(value.tools)) return null;
  const tools = value.tools.map(parseToolActivity);
  if (!tools.every((t): t is ToolActivity => t !== null)) return null;
  return { workedMs: value.workedMs, toolCount: value.toolCount, tools };
}

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
    case 'notice': {
      // The page opens the conversation /new names: it must be a valid id.
      const next = f.newConversationId;
      const nextValid = next === undefined || (isString(next) && ID_PATTERN.test(next));
      return isId(f.conversationId) && isId(f.clientMessageId) && isString(f.text) && nextValid
        ? {
            type: 'notice',
            conversationId: f.conversationId,
            clientMessageId: f.clientMessageId,
            text: f.text,
            ...(isString(next) ? { newConversationId: next } : {}),
          }
        : null;
    }
    case 'transcript':
      return isId(f.conversationId) && isId(f.messageId) && isId(f.attachmentId) && isString(f.text)
        ? { type: 'transcript', conversationId: f.conversationId, messageId: f.messageId, attachmentId: f.attachmentId, text: f.text }
        : null;
    case 'activity': {
      const tool = parseToolActivity(f);
      return tool !== null && isId(f.conversationId) && isId(f.messageId)
        ? { type: 'activity', conversationId: f.conversationId, messageId: f.messageId, ...tool }
        : null;
    }
    case 'message': {
      const usage = parseUsage(f.usage);
      if (
        !isId(f.conversationId) ||
        !isId(f.messageId) ||
        f.role !== 'assistant' ||
        !isString(f.content) ||
        usage === null ||
        !isCost(f.costUsd) ||
        !isCount(f.durationMs)
      ) {
        return null;
      }
      const frame: MessageFrame = {
        type: 'message',
        conversationId: f.conversationId,
        messageId: f.messageId,
        role: 'assistant',
        content: f.content,
        usage,
        costUsd: f.costUsd,
        durationMs: f.durationMs,
      };
      const activity = f.activity === undefined ? null : parseTurnActivity(f.activity);
      if (activity !== null) frame.activity = activity;
      const attachments = parseAttachments(f.attachments);
      if (attachments.length > 0) frame.attachments = attachments;
      return frame;
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
    const message = parseStoredMessage(m);
    if (message === null) return null;
    messages.push(message);
  }
  return messages;
}

/** One version of the last exchange (edited or regenerated): the user message and the reply to it, if any. */
export interface ExchangeVersion {
  user: StoredMessage;
  reply: StoredMessage | null;
}

/** A page of `GET /api/conversations/{id}/messages`: on the newest page, the versions of the last exchange too. */
export interface MessagePage {
  messages: StoredMessage[];
  /** Oldest first, the current one last; empty when the last exchange has one version. */
  versions: ExchangeVersion[];
}

/** Parses a page of messages; versions that cannot be read are dropped (they only decorate the history). */
export function parseMessagePage(body: unknown): MessagePage | null {
  const messages = parseMessagesResponse(body);
  if (messages === null || !isObject(body)) return null;
  const versions: ExchangeVersion[] = [];
  if (Array.isArray(body.versions)) {
    for (const v of body.versions) {
      if (!isObject(v)) return { messages, versions: [] };
      const user = parseStoredMessage(v.user);
      const reply = v.reply === null || v.reply === undefined ? null : parseStoredMessage(v.reply);
      if (user === null || (reply === null && v.reply !== null && v.reply !== undefined)) return { messages, versions: [] };
      versions.push({ user, reply });
    }
  }
  return { messages, versions };
}

function parseStoredMessage(m: unknown): StoredMessage | null {
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
  const message: StoredMessage = { id: m.id, role: m.role, content: m.content, createdAt: m.createdAt, channel: m.channel };
  // Usage and cost are optional extras: a malformed one is dropped rather than failing the history.
  const usage = m.usage === undefined ? null : parseUsage(m.usage);
  if (usage !== null) message.usage = usage;
  if (m.costUsd !== undefined && isCost(m.costUsd)) message.costUsd = m.costUsd;
  const activity = m.activity === undefined ? null : parseTurnActivity(m.activity);
  if (activity !== null) message.activity = activity;
  const attachments = parseAttachments(m.attachments);
  if (attachments.length > 0) message.attachments = attachments;
  return message;
}

/** Parses an attachment view; null if it is not one. */
export function parseAttachment(value: unknown): Attachment | null {
  if (
    !isObject(value) ||
    !isId(value.id) ||
    !isString(value.name) ||
    !isString(value.mediaType) ||
    !isCount(value.size) ||
    (value.kind !== 'image' && value.kind !== 'file' && value.kind !== 'audio') ||
    !isString(value.createdAt) ||
    (value.transcript !== undefined && !isString(value.transcript))
  ) {
    return null;
  }
  const attachment: Attachment = {
    id: value.id,
    name: value.name,
    mediaType: value.mediaType,
    size: value.size,
    kind: value.kind,
    createdAt: value.createdAt,
  };
  if (isString(value.transcript)) attachment.transcript = value.transcript;
  return attachment;
}

/** Where the bytes of an upload go (`POST .../attachments/uploads`): a request the page makes itself, to storage. */
export interface UploadTarget {
  method: string;
  /** Absolute (S3), or relative to the API (local mode). */
  url: string;
  /** Headers to send besides Content-Length, which the browser sets from the body. */
  headers: Record<string, string>;
}

/** An upload begun: the id to complete it with and its target. */
export interface PendingUpload {
  uploadId: string;
  target: UploadTarget;
}

/** Parses the answer to `POST .../attachments/uploads`; null if it is not one. */
export function parseUpload(value: unknown): PendingUpload | null {
  if (!isObject(value) || !isId(value.uploadId) || !isObject(value.target)) return null;
  const { method, url, headers } = value.target;
  if (!isString(method) || !isString(url) || !isObject(headers)) return null;
  const names = Object.keys(headers);
  const values = names.map((name) => headers[name]);
  if (!values.every(isString)) return null;
  return {
    uploadId: value.uploadId,
    target: { method, url, headers: Object.fromEntries(names.map((name, i) => [name, values[i] as string])) },
  };
}

/** A link that reads an attachment's bytes without the token, until `expiresAt` (docs/protocol.md, "Attachments"). */
export interface DownloadLink {
  /** Absolute (S3), or relative to the API (local mode). */
  url: string;
  /** RFC 3339. */
  expiresAt: string;
}

/** Parses the answer to `GET .../attachments/{id}/link`; null if it is not one. */
export function parseDownloadLink(value: unknown): DownloadLink | null {
  if (!isObject(value) || !isString(value.url) || !isString(value.expiresAt)) return null;
  return { url: value.url, expiresAt: value.expiresAt };
}

/** A message's attachments; like usage, one that cannot be read is left out and the message still shows. */
function parseAttachments(value: unknown): Attachment[] {
  return Array.isArray(value) ? value.map(parseAttachment).filter((a): a is Attachment => a !== null) : [];
}

/** Parses the body of `GET /api/conversations`; null if it is not `{"conversations":[...]}`. */
export function parseConversationsResponse(body: unknown): ConversationSummary[] | null {
  if (!isObject(body) || !Array.isArray(body.conversations)) return null;
  const conversations: ConversationSummary[] = [];
  for (const c of body.conversations) {
    if (!isObject(c) || !isId(c.id) || !isString(c.title) || !isString(c.updatedAt) || !isCount(c.messageCount)) return null;
    conversations.push({ id: c.id, title: c.title, updatedAt: c.updatedAt, messageCount: c.messageCount });
  }
  return conversations;
}

function parseModelSettings(value: unknown): ModelSettings | null {
  if (!isObject(value) || !isString(value.provider) || !isString(value.model)) return null;
  const provider = PROVIDERS.find((p) => p === value.provider);
  if (provider === undefined) return null;
  const model: ModelSettings = { provider, model: value.model };
  if (value.baseUrl !== undefined && value.baseUrl !== null) {
    if (!isString(value.baseUrl)) return null;
    model.baseUrl = value.baseUrl;
  }
  if (value.region !== undefined && value.region !== null) {
    if (!isString(value.region)) return null;
    model.region = value.region;
  }
  return model;
}

/** Parses the body of `GET /api/settings` and `PUT /api/settings`; null if it has another shape. */
export function parseSettingsResponse(body: unknown): Settings | null {
  if (!isObject(body) || !isObject(body.apiKeys) || !isObject(body.telegram) || !Array.isArray(body.telegram.linked)) return null;
  const model = body.model === null ? null : parseModelSettings(body.model);
  if (model === null && body.model !== null) return null;
  if (body.defaultModel !== null && !isString(body.defaultModel)) return null;
  // A server from before speech settings sends none: choose by the keys.
  const speech = body.speech === undefined || body.speech === null ? null : parseSpeechSettings(body.speech);
  if (speech === null && body.speech !== undefined && body.speech !== null) return null;
  const keys = body.apiKeys;
  // A provider the server does not mention has no key stored.
  const apiKeys = Object.fromEntries(PROVIDERS.map((p) => [p, keys[p] === true])) as Record<Provider, boolean>;
  const linked = body.telegram.linked;
  if (!linked.every((id): id is number => typeof id === 'number' && Number.isSafeInteger(id))) return null;
  // A server from before the browser switch sends none: its agent browses when it can.
  if (body.browser !== undefined && typeof body.browser !== 'boolean') return null;
  return { model, speech, defaultModel: body.defaultModel, apiKeys, telegram: { linked }, browser: body.browser !== false };
}

function parseSpeechSettings(value: unknown): SpeechSettings | null {
  if (!isObject(value) || !isString(value.provider) || !(SPEECH_PROVIDERS as readonly string[]).includes(value.provider)) return null;
  if ((value.model !== undefined && !isString(value.model)) || (value.baseUrl !== undefined && !isString(value.baseUrl))) return null;
  const speech: SpeechSettings = { provider: value.provider as SpeechProvider };
  if (isString(value.model)) speech.model = value.model;
  if (isString(value.baseUrl)) speech.baseUrl = value.baseUrl;
  return speech;
}

/** Parses the body of `POST /api/telegram/link-code`; null when it is not a link code. */
export function parseLinkCode(body: unknown): LinkCode | null {
  if (!isObject(body) || !isString(body.code) || !/^[0-9]{6,12}$/.test(body.code) || !isString(body.expiresAt)) return null;
  const expires = new Date(body.expiresAt);
  return Number.isNaN(expires.getTime()) ? null : { code: body.code, expiresAt: expires };
}

/** A thinking level, as `/think` takes it. */
export const THINKING_LEVELS = ['off', 'minimal', 'low', 'medium', 'high'] as const;
export type ThinkingLevel = (typeof THINKING_LEVELS)[number];

/** Where the model a conversation's turns run with comes from. */
export type ModelSource = 'conversation' | 'settings' | 'deployment' | 'unconfigured';

/** Body of `GET`/`PUT /api/conversations/{id}/settings`. */
export interface ConversationSettings {
  /** The conversation's own model id; null: the default. */
  model: string | null;
  /** The conversation's own thinking level; null: the model's default. */
  thinking: ThinkingLevel | null;
  effectiveModel: string | null;
  modelSource: ModelSource;
  defaultModel: string | null;
  models: { id: string; default: boolean }[];
  thinkingLevels: ThinkingLevel[];
}

/** Body of `PUT /api/conversations/{id}/settings`: an absent field is left unchanged, null is the default. */
export interface ConversationSettingsChange {
  model?: string | null;
  thinking?: ThinkingLevel | null;
}

const MODEL_SOURCES: readonly ModelSource[] = ['conversation', 'settings', 'deployment', 'unconfigured'];

function isThinkingLevel(value: unknown): value is ThinkingLevel {
  return THINKING_LEVELS.some((level) => level === value);
}

function isNullableString(value: unknown): value is string | null {
  return value === null || isString(value);
}

/** Parses a conversation's settings; null if the body has another shape. */
export function parseConversationSettings(body: unknown): ConversationSettings | null {
  if (!isObject(body) || !isNullableString(body.model) || !isNullableString(body.effectiveModel) || !isNullableString(body.defaultModel))
    return null;
  const { thinking, modelSource, models, thinkingLevels } = body;
  if (thinking !== null && !isThinkingLevel(thinking)) return null;
  const source = MODEL_SOURCES.find((s) => s === modelSource);
  if (source === undefined || !Array.isArray(models) || !Array.isArray(thinkingLevels)) return null;
  const choices = models.flatMap((m: unknown) =>
    isObject(m) && isString(m.id) && typeof m.default === 'boolean' ? [{ id: m.id, default: m.default }] : [],
  );
  if (choices.length !== models.length || !thinkingLevels.every(isThinkingLevel)) return null;
  return {
    model: body.model,
    thinking,
    effectiveModel: body.effectiveModel,
    modelSource: source,
    defaultModel: body.defaultModel,
    models: choices,
    thinkingLevels,
  };
}

/** Parses a REST error body `{"code","message"}`; null if the body has another shape. */
export function parseApiError(body: unknown): ApiError | null {
  return isObject(body) && isId(body.code) && isString(body.message) ? { code: body.code, message: body.message } : null;
}

// ---- search ----

/** A piece of a search hit's snippet; `match` marks a word the search found. The pieces joined are the snippet. */
export interface SnippetPart {
  text: string;
  match: boolean;
}

/** A message `GET /api/search` found, and where it is. */
export interface SearchHit {
  conversationId: string;
  /** The conversation's title. */
  title: string;
  messageId: string;
  role: 'user' | 'assistant';
  snippet: SnippetPart[];
  createdAt: string;
}

/** The longest search the server accepts, in characters. */
export const MAX_SEARCH_CHARS = 200;

/** Parses the body of `GET /api/search`; null if it is not `{"hits":[...]}` with well-formed hits. */
export function parseSearchResponse(body: unknown): SearchHit[] | null {
  if (!isObject(body) || !Array.isArray(body.hits)) return null;
  const hits: SearchHit[] = [];
  for (const h of body.hits) {
    if (
      !isObject(h) ||
      !isId(h.conversationId) ||
      !isString(h.title) ||
      !isId(h.messageId) ||
      (h.role !== 'user' && h.role !== 'assistant') ||
      !isString(h.createdAt) ||
      !Array.isArray(h.snippet)
    ) {
      return null;
    }
    const snippet: SnippetPart[] = [];
    for (const p of h.snippet) {
      if (!isObject(p) || !isString(p.text) || typeof p.match !== 'boolean') return null;
      snippet.push({ text: p.text, match: p.match });
    }
    hits.push({ conversationId: h.conversationId, title: h.title, messageId: h.messageId, role: h.role, snippet, createdAt: h.createdAt });
  }
  return hits;
}

/** A skill of the user's workspace (docs/protocol.md, "Skills"). */
export interface Skill {
  name: string;
  /** From its SKILL.md; null for a folder without a readable one. */
  description: string | null;
  enabled: boolean;
  userInvocable: boolean;
  files: number;
  bytes: number;
}

/** Parses one skill view; null if it has another shape. */
export function parseSkill(value: unknown): Skill | null {
  if (!isObject(value) || !isString(value.name) || typeof value.enabled !== 'boolean' || typeof value.userInvocable !== 'boolean')
    return null;
  if (value.description !== null && !isString(value.description)) return null;
  if (typeof value.files !== 'number' || typeof value.bytes !== 'number') return null;
  return {
    name: value.name,
    description: value.description,
    enabled: value.enabled,
    userInvocable: value.userInvocable,
    files: value.files,
    bytes: value.bytes,
  };
}

/** Parses the body of `GET /api/skills`; null if it has another shape. */
export function parseSkillList(body: unknown): Skill[] | null {
  if (!isObject(body) || !Array.isArray(body.skills)) return null;
  const skills = body.skills.map(parseSkill);
  return skills.every((s): s is Skill => s !== null) ? skills : null;
}
