// One conversation's chat state and every rule about how it changes: a pure reducer over server frames and
// local events (sending, the socket opening or dropping, history and earlier pages loading). useChat.ts only
// wires the connection and REST to it, so all chat behaviour is unit-tested here without a browser.

import type { ConnectionState } from './connection';
import {
  MAX_MESSAGE_BYTES,
  type Attachment,
  type ErrorCode,
  type ExchangeVersion,
  type ServerFrame,
  type StoredMessage,
  type ToolActivity,
  type TurnActivity,
  type TurnStatus,
} from './protocol';

export type { ConnectionState };

/** How many messages one history page holds (the newest ones first, then "Load earlier messages"). */
export const HISTORY_PAGE = 50;

export type HistoryState = 'idle' | 'loading' | 'loaded' | 'failed';
export type EarlierState = 'idle' | 'loading' | 'failed';

export interface TurnMeta {
  inputTokens: number;
  outputTokens: number;
  costUsd: number | null;
  /** Known for replies seen live; the history does not carry it. */
  durationMs?: number;
}

export interface UserMessage {
  key: string;
  role: 'user';
  text: string;
  /** Set for messages sent from this page; the server's ack maps it to `messageId`. */
  clientMessageId?: string;
  messageId?: string;
  /** `sending` until acked; `failed` when the server refused it (it will not be sent again). */
  state: 'sending' | 'sent' | 'failed';
  /** What was sent with it. */
  attachments?: Attachment[];
}

export interface AssistantMessage {
  key: string;
  role: 'assistant';
  text: string;
  messageId: string;
  /** `interrupted`: the turn ended or the socket dropped before the final message arrived. */
  state: 'streaming' | 'final' | 'interrupted';
  /** From the final `message` frame, or from the history when the server stored usage. */
  meta?: TurnMeta;
  /**
   * The turn's tool calls: built from `activity` frames while it runs (`workedMs` 0 until the end), then the
   * final message's or the history's record. Absent when the turn called no tools.
   */
  activity?: TurnActivity;
  /** The files the agent attached to the reply (images it made, documents it wrote). */
  attachments?: Attachment[];
}

export interface ErrorMessage {
  key: string;
  role: 'error';
  text: string;
  code: string;
  /** The text of the failed send or turn, when sending it again (with a new id) could help. */
  retryText?: string;
}

/** A chat command's answer (a `notice` frame), under the command; not stored, so a reload drops it. */
export interface NoticeMessage {
  key: string;
  role: 'notice';
  text: string;
}

export type ChatMessage = UserMessage | AssistantMessage | ErrorMessage | NoticeMessage;

export interface ChatState {
  conversationId: string;
  connection: ConnectionState;
  /** True once the socket has been open at least once; a later open is a reconnect. */
  hasConnected: boolean;
  history: HistoryState;
  historyError: string | null;
  /** The history should be (re)loaded: at start, after a reconnect, or when another tab sent a message. */
  historyStale: boolean;
  /** Whether the server may hold messages older than the oldest one shown. */
  hasEarlier: boolean;
  earlier: EarlierState;
  earlierError: string | null;
  turn: TurnStatus;
  messages: ChatMessage[];
  nextErrorSeq: number;
  /** The versions of the last exchange (edited or regenerated), from the newest history page; the current one last. */
  versions: ExchangeVersion[];
  /** The earlier version being looked at (view-only), or null for the current one. */
  viewedVersion: number | null;
  /** The client message id of an edit or regenerate sent from this page and not acknowledged yet. */
  pendingRerun: string | null;
}

export type ChatAction =
  | { kind: 'frame'; frame: ServerFrame }
  | { kind: 'send'; clientMessageId: string; text: string; attachments?: Attachment[] }
  | { kind: 'localError'; code: string; message: string }
  | { kind: 'connection'; state: ConnectionState }
  | { kind: 'historyRequested' }
  /** The newest page; `full` when it held as many messages as asked for (there may be older ones). */
  | { kind: 'historyLoaded'; messages: StoredMessage[]; full: boolean; versions?: ExchangeVersion[] }
  /**
   * Regenerate the last reply `messageId` (it leaves the view until the history brings it back as an earlier
   * version), or run the unanswered last user message `messageId` again (what follows it leaves the view).
   */
  | { kind: 'regenerate'; clientMessageId: string; messageId: string }
  /** Replace the last user message `messageId` (and its reply) by `text`. */
  | { kind: 'edit'; clientMessageId: string; messageId: string; text: string }
  /** Look at version `index` of the last exchange (the last index is the current one). */
  | { kind: 'browseVersion'; index: number }
  | { kind: 'historyFailed'; message: string }
  | { kind: 'earlierRequested' }
  | { kind: 'earlierLoaded'; messages: StoredMessage[]; full: boolean }
  | { kind: 'earlierFailed'; message: string };

export interface ChatStart {
  /** The turn state known when the view opens (from the status frames seen so far), `idle` if none. */
  turn?: TurnStatus;
  /** A conversation that does not exist on the server yet: nothing to load. */
  isNew?: boolean;
  connection?: ConnectionState;
}

export function initialChatState(conversationId: string, start: ChatStart = {}): ChatState {
  const connection = start.connection ?? 'connecting';
  return {
    conversationId,
    connection,
    hasConnected: connection === 'open',
    history: start.isNew === true ? 'loaded' : 'idle',
    historyError: null,
    historyStale: start.isNew !== true,
    hasEarlier: false,
    earlier: 'idle',
    earlierError: null,
    turn: start.turn ?? 'idle',
    messages: [],
    nextErrorSeq: 0,
    versions: [],
    viewedVersion: null,
    pendingRerun: null,
  };
}

export function chatReducer(state: ChatState, action: ChatAction): ChatState {
  switch (action.kind) {
    case 'frame':
      return applyFrame(state, action.frame);
    case 'send': {
      if (state.messages.some((m) => m.role === 'user' && m.clientMessageId === action.clientMessageId)) {
        return state;
      }
      const message: UserMessage = {
        key: `c:${action.clientMessageId}`,
        role: 'user',
        text: action.text,
        clientMessageId: action.clientMessageId,
        state: 'sending',
      };
      if (action.attachments !== undefined && action.attachments.length > 0) message.attachments = action.attachments;
      return { ...state, messages: [...state.messages, message] };
    }
    case 'localError':
      return addError(state, action.code, action.message);
    case 'connection':
      return applyConnection(state, action.state);
    case 'historyRequested':
      return { ...state, history: 'loading', historyStale: false, historyError: null };
    case 'historyLoaded': {
      const firstLoad = !state.messages.some((m) => messageIdOf(m) !== undefined);
      return {
        ...state,
        history: 'loaded',
        historyError: null,
        // A reload after earlier pages were read keeps them, and what is known about older ones.
        hasEarlier: firstLoad ? action.full : state.hasEarlier,
        messages: mergeHistory(withoutSuperseded(state.messages, action), action.messages),
        versions: action.versions ?? [],
        viewedVersion: null,
        // The history is the truth from here on, whether or not the rerun's ack came.
        pendingRerun: null,
      };
    }
    case 'regenerate': {
      const index = state.messages.findIndex((m) => messageIdOf(m) === action.messageId);
      const named = state.messages[index];
      if (named === undefined) return state;
      const kept = named.role === 'user' ? index + 1 : index;
      return { ...state, messages: state.messages.slice(0, kept), viewedVersion: null, pendingRerun: action.clientMessageId };
    }
    case 'edit': {
      const index = state.messages.findIndex((m) => m.role === 'user' && m.messageId === action.messageId);
      if (index < 0) return state;
      const edited: UserMessage = {
        key: `c:${action.clientMessageId}`,
        role: 'user',
        text: action.text,
        clientMessageId: action.clientMessageId,
        state: 'sending',
      };
      return {
        ...state,
        messages: [...state.messages.slice(0, index), edited],
        viewedVersion: null,
        pendingRerun: action.clientMessageId,
      };
    }
    case 'browseVersion': {
      const last = state.versions.length - 1;
      if (action.index < 0 || action.index > last) return state;
      return { ...state, viewedVersion: action.index === last ? null : action.index };
    }
    case 'historyFailed':
      return { ...state, history: 'failed', historyError: action.message };
    case 'earlierRequested':
      return { ...state, earlier: 'loading', earlierError: null };
    case 'earlierLoaded': {
      const known = new Set(state.messages.map(messageIdOf));
      const older = action.messages.filter((m) => !known.has(m.id)).map((m) => fromStored(m, undefined));
      return { ...state, earlier: 'idle', hasEarlier: action.full, messages: [...older, ...state.messages] };
    }
    case 'earlierFailed':
      return { ...state, earlier: 'failed', earlierError: action.message };
  }
}

/** The oldest message the server knows that this view shows: `before` for the next earlier page. */
export function oldestStoredId(state: ChatState): string | null {
  for (const m of state.messages) {
    const id = messageIdOf(m);
    if (id !== undefined) return id;
  }
  return null;
}

function applyConnection(state: ChatState, connection: ConnectionState): ChatState {
  if (connection === state.connection) return state;
  if (connection === 'open') {
    // A reconnect may have missed frames, and a failed first load is worth retrying once the server answers.
    const reload = state.hasConnected || state.history === 'failed';
    return {
      ...state,
      connection,
      hasConnected: true,
      historyStale: state.historyStale || reload,
    };
  }
  // Without a socket nothing says how the running turn goes on; the next status or delta frame will.
  return {
    ...state,
    connection,
    turn: 'idle',
    messages: interruptStreaming(state.messages),
  };
}

function applyFrame(state: ChatState, frame: ServerFrame): ChatState {
  if (frame.type === 'pong') return state;
  if (frame.conversationId !== undefined && frame.conversationId !== state.conversationId) return state;
  switch (frame.type) {
    case 'ack': {
      if (frame.clientMessageId === state.pendingRerun) {
        // The new version is stored: the history now has the earlier one among the versions.
        const rerun = { ...state, pendingRerun: null, historyStale: true };
        const index = state.messages.findIndex((m) => m.role === 'user' && m.clientMessageId === frame.clientMessageId);
        if (index < 0) return rerun;
        const acked: UserMessage = { ...(state.messages[index] as UserMessage), messageId: frame.messageId, state: 'sent' };
        return { ...rerun, messages: replaceAt(state.messages, index, acked) };
      }
      const index = state.messages.findIndex((m) => m.role === 'user' && m.clientMessageId === frame.clientMessageId);
      if (index < 0) {
        // Sent from another tab: this page does not have its text, the history does.
        return { ...state, historyStale: true };
      }
      const acked: UserMessage = {
        ...(state.messages[index] as UserMessage),
        messageId: frame.messageId,
        state: 'sent',
      };
      return { ...state, messages: replaceAt(state.messages, index, acked) };
    }
    case 'status': {
      const messages = frame.status === 'idle' ? interruptStreaming(state.messages) : state.messages;
      return { ...state, turn: frame.status, messages };
    }
    case 'delta': {
      const turn = state.turn === 'idle' ? 'running' : state.turn;
      const index = findAssistant(state.messages, frame.messageId);
      if (index < 0) {
        const created: AssistantMessage = {
          key: `m:${frame.messageId}`,
          role: 'assistant',
          text: frame.text,
          messageId: frame.messageId,
          state: 'streaming',
        };
        return { ...state, turn, messages: [...state.messages, created] };
      }
      const current = state.messages[index] as AssistantMessage;
      if (current.state === 'final') return state;
      const text = frame.replace ? frame.text : current.text + frame.text;
      const grown: AssistantMessage = { ...current, text, state: 'streaming' };
      return { ...state, turn, messages: replaceAt(state.messages, index, grown) };
    }
    case 'activity': {
      const turn = state.turn === 'idle' ? 'running' : state.turn;
      const { type: _type, conversationId: _conversation, messageId, ...tool } = frame;
      const index = findAssistant(state.messages, messageId);
      if (index < 0) {
        // Tools usually run before any text: the reply's bubble starts with them.
        const created: AssistantMessage = {
          key: `m:${messageId}`,
          role: 'assistant',
          text: '',
          messageId,
          state: 'streaming',
          activity: recordTool(undefined, tool),
        };
        return { ...state, turn, messages: [...state.messages, created] };
      }
      const current = state.messages[index] as AssistantMessage;
      if (current.state === 'final') return state;
      const grown: AssistantMessage = { ...current, activity: recordTool(current.activity, tool) };
      return { ...state, turn, messages: replaceAt(state.messages, index, grown) };
    }
    case 'message': {
      const meta: TurnMeta = {
        inputTokens: frame.usage.inputTokens,
        outputTokens: frame.usage.outputTokens,
        costUsd: frame.costUsd,
        durationMs: frame.durationMs,
      };
      const index = findAssistant(state.messages, frame.messageId);
      const final: AssistantMessage = {
        key: index < 0 ? `m:${frame.messageId}` : state.messages[index]!.key,
        role: 'assistant',
        text: frame.content,
        messageId: frame.messageId,
        state: 'final',
        meta,
      };
      if (frame.activity !== undefined) final.activity = frame.activity;
      if (frame.attachments !== undefined) final.attachments = frame.attachments;
      const messages = index < 0 ? [...state.messages, final] : replaceAt(state.messages, index, final);
      // A reply to a rerun completes the current version: the versions are read again with it.
      return { ...state, messages, historyStale: state.historyStale || state.versions.length > 0 };
    }
    case 'transcript': {
      // What was heard in a voice note: shown under its audio, in the user's message.
      const index = state.messages.findIndex((m) => m.role === 'user' && m.messageId === frame.messageId);
      const message = state.messages[index];
      if (message === undefined || message.role !== 'user') return { ...state, historyStale: true };
      const attachments = (message.attachments ?? []).map((a) => (a.id === frame.attachmentId ? { ...a, transcript: frame.text } : a));
      return { ...state, messages: replaceAt(state.messages, index, { ...message, attachments }) };
    }
    case 'notice': {
      const key = `n:${frame.clientMessageId}`;
      if (state.messages.some((m) => m.key === key)) return state;
      // The command was received and answered: it is not a turn, so no ack and nothing is stored.
      const messages = state.messages.map((m) =>
        m.role === 'user' && m.clientMessageId === frame.clientMessageId ? { ...m, state: 'sent' as const } : m,
      );
      const notice: NoticeMessage = { key, role: 'notice', text: frame.text };
      return { ...state, messages: [...messages, notice] };
    }
    case 'error': {
      let messages = state.messages;
      let retryText: string | undefined;
      if (frame.clientMessageId !== undefined) {
        const sent = messages.find((m): m is UserMessage => m.role === 'user' && m.clientMessageId === frame.clientMessageId);
        if (sent !== undefined && !NOT_RETRIED.includes(frame.code)) retryText = sent.text;
        // A refused send (too large, invalid id, ...) is not resent on reconnect.
        messages = messages.map((m) =>
          m.role === 'user' && m.clientMessageId === frame.clientMessageId && m.state === 'sending'
            ? { ...m, state: 'failed' as const }
            : m,
        );
      }
      if (frame.conversationId !== undefined) messages = interruptStreaming(messages);
      if (frame.clientMessageId !== undefined && frame.clientMessageId === state.pendingRerun) {
        // The edit or regenerate was refused: the history brings back what the page took away for it.
        const refused = { ...state, messages: messages.filter((m) => !(m.role === 'user' && m.clientMessageId === frame.clientMessageId)) };
        return addError({ ...refused, pendingRerun: null, historyStale: true }, frame.code, frame.message);
      }
      return addError({ ...state, messages }, frame.code, frame.message, retryText);
    }
  }
}

/** Refusals that the same text would get again: no Retry for them. */
const NOT_RETRIED: readonly string[] = ['bad_request', 'too_large', 'invalid_id', 'unauthorized'] satisfies ErrorCode[];

function addError(state: ChatState, code: string, message: string, retryText?: string): ChatState {
  const error: ErrorMessage = { key: `e:${state.nextErrorSeq}`, role: 'error', text: message, code };
  if (retryText !== undefined) error.retryText = retryText;
  return { ...state, messages: [...state.messages, error], nextErrorSeq: state.nextErrorSeq + 1 };
}

/** Takes in a tool start or end: a new call is appended, an end replaces its start (as the server records them). */
function recordTool(activity: TurnActivity | undefined, tool: ToolActivity): TurnActivity {
  const current = activity ?? { workedMs: 0, toolCount: 0, tools: [] };
  const index = current.tools.findIndex((t) => t.toolId === tool.toolId);
  if (index >= 0) {
    const tools = current.tools.slice();
    tools[index] = tool;
    return { ...current, tools };
  }
  return { ...current, toolCount: current.toolCount + 1, tools: [...current.tools, tool] };
}

function findAssistant(messages: ChatMessage[], messageId: string): number {
  return messages.findIndex((m) => m.role === 'assistant' && m.messageId === messageId);
}

function replaceAt(messages: ChatMessage[], index: number, message: ChatMessage): ChatMessage[] {
  const copy = messages.slice();
  copy[index] = message;
  return copy;
}

function interruptStreaming(messages: ChatMessage[]): ChatMessage[] {
  if (!messages.some((m) => m.role === 'assistant' && m.state === 'streaming')) return messages;
  return messages.map((m) => (m.role === 'assistant' && m.state === 'streaming' ? { ...m, state: 'interrupted' as const } : m));
}

function messageIdOf(message: ChatMessage): string | undefined {
  return message.role === 'error' || message.role === 'notice' ? undefined : message.messageId;
}

/** A stored message as a bubble; `known` is the bubble the page already had for it (key, live-only details). */
function fromStored(s: StoredMessage, known: ChatMessage | undefined): ChatMessage {
  const key = known?.key ?? `m:${s.id}`;
  if (s.role === 'user') {
    const user: UserMessage = { key, role: 'user', text: s.content, messageId: s.id, state: 'sent' };
    if (known?.role === 'user' && known.clientMessageId !== undefined) user.clientMessageId = known.clientMessageId;
    const attachments = s.attachments ?? (known?.role === 'user' ? known.attachments : undefined);
    if (attachments !== undefined) user.attachments = attachments;
    return user;
  }
  const assistant: AssistantMessage = { key, role: 'assistant', text: s.content, messageId: s.id, state: 'final' };
  if (known?.role === 'assistant' && known.meta !== undefined) {
    assistant.meta = known.meta;
  } else if (s.usage !== undefined) {
    assistant.meta = { inputTokens: s.usage.inputTokens, outputTokens: s.usage.outputTokens, costUsd: s.costUsd ?? null };
  }
  const activity = s.activity ?? (known?.role === 'assistant' ? known.activity : undefined);
  if (activity !== undefined) assistant.activity = activity;
  const produced = s.attachments ?? (known?.role === 'assistant' ? known.attachments : undefined);
  if (produced !== undefined) assistant.attachments = produced;
  return assistant;
}

/** The page's messages without those the history now keeps only as earlier versions (rerun elsewhere, another tab). */
function withoutSuperseded(local: ChatMessage[], loaded: { messages: StoredMessage[]; versions?: ExchangeVersion[] }): ChatMessage[] {
  const current = new Set(loaded.messages.map((m) => m.id));
  const earlier = new Set(
    (loaded.versions ?? []).flatMap((v) => [v.user.id, ...(v.reply === null ? [] : [v.reply.id])]).filter((id) => !current.has(id)),
  );
  if (earlier.size === 0) return local;
  return local.filter((m) => {
    const id = messageIdOf(m);
    return id === undefined || !earlier.has(id);
  });
}

/**
 * The stored history is the truth for every message it holds. Messages only this page knows (not acked yet,
 * error bubbles, replies stored after the history was read) stay, each after the stored message it followed.
 */
function mergeHistory(local: ChatMessage[], stored: StoredMessage[]): ChatMessage[] {
  const localById = new Map<string, ChatMessage>();
  for (const m of local) {
    const id = messageIdOf(m);
    if (id !== undefined) localById.set(id, m);
  }
  const fromHistory = stored.map((s) => fromStored(s, localById.get(s.id)));

  const storedIndex = new Map(stored.map((s, i) => [s.id, i] as const));
  // after[i + 1] holds the local-only messages that followed stored message i (after[0]: before any).
  const after: ChatMessage[][] = Array.from({ length: stored.length + 1 }, () => []);
  let anchor = -1;
  for (const m of local) {
    const id = messageIdOf(m);
    const index = id === undefined ? undefined : storedIndex.get(id);
    if (index !== undefined) {
      anchor = index;
    } else {
      after[anchor + 1]!.push(m);
    }
  }
  const merged: ChatMessage[] = [...after[0]!];
  fromHistory.forEach((m, i) => merged.push(m, ...after[i + 1]!));
  return merged;
}

// ---- edit, regenerate and the versions of the last exchange ----

/**
 * The last exchange when it can be edited or regenerated: no turn runs and the current version is shown. With
 * its reply stored (`replyId`), both; without one (`replyId` null), only when it is a rerun whose turn failed
 * (the current version of an exchange with versions): regenerating runs it again.
 */
export function lastExchange(state: ChatState): { userId: string; replyId: string | null } | null {
  if (state.turn !== 'idle' || state.viewedVersion !== null || state.pendingRerun !== null) return null;
  const stored = state.messages.filter((m) => m.role === 'user' || m.role === 'assistant');
  const last = stored[stored.length - 1];
  if (last?.role === 'user') {
    const current = state.versions[state.versions.length - 1];
    const failedRerun = last.messageId !== undefined && current?.user.id === last.messageId && current.reply === null;
    return failedRerun && last.messageId !== undefined ? { userId: last.messageId, replyId: null } : null;
  }
  const user = stored[stored.length - 2];
  if (last?.role !== 'assistant' || last.state !== 'final' || user?.role !== 'user' || user.messageId === undefined) return null;
  // An error or notice after the reply belongs to something later than the exchange.
  if (state.messages[state.messages.length - 1] !== last) return null;
  return { userId: user.messageId, replyId: last.messageId };
}

/** Where the version arrows go: under the message with `anchorKey`, showing version `index` of `count`. */
export interface VersionPager {
  index: number;
  count: number;
  anchorKey: string;
}

/**
 * The messages to show: the conversation as it is, or with its last exchange replaced by the earlier version
 * being looked at (view-only: sending goes on from the current version); and the version arrows, when the last
 * exchange has more than one version.
 */
export function displayedMessages(state: ChatState): { messages: ChatMessage[]; pager: VersionPager | null } {
  const count = state.versions.length;
  const current = state.versions[count - 1];
  if (count < 2 || current === undefined) return { messages: state.messages, pager: null };
  const start = state.messages.findIndex((m) => m.role === 'user' && m.messageId === current.user.id);
  if (start < 0) return { messages: state.messages, pager: null };
  const index = state.viewedVersion ?? count - 1;
  const viewed = state.versions[index] ?? current;
  let messages = state.messages;
  if (index !== count - 1) {
    const version: ChatMessage[] = [
      fromStored(viewed.user, undefined),
      ...(viewed.reply === null ? [] : [fromStored(viewed.reply, undefined)]),
    ];
    messages = [...state.messages.slice(0, start), ...version.map((m) => ({ ...m, key: `v${index}:${m.key}` }))];
  }
  const shown = messages.slice(start).filter((m) => m.role === 'user' || m.role === 'assistant');
  const anchor = shown.find((m) => m.role === 'assistant') ?? shown[0];
  return { messages, pager: anchor === undefined ? null : { index, count, anchorKey: anchor.key } };
}

// ---- derived values and helpers used by the hook and the view ----

/** The status line for the current turn, or null when no turn runs. */
export function turnLabel(turn: TurnStatus): string | null {
  switch (turn) {
    case 'queued':
      return 'Thinking…';
    case 'starting':
      return 'Waking up the agent…';
    case 'running':
      return 'Thinking…';
    case 'idle':
      return null;
  }
}

/** Why the server would refuse this message, checked before sending; null if it may be sent. */
export function checkOutgoing(text: string, attachments = 0): { code: string; message: string } | null {
  if (text.trim() === '' && attachments === 0) return { code: 'bad_request', message: 'The message is empty.' };
  const bytes = new TextEncoder().encode(text).length;
  if (bytes > MAX_MESSAGE_BYTES) {
    return {
      code: 'too_large',
      message: `The message is ${bytes} bytes; the limit is ${MAX_MESSAGE_BYTES} bytes.`,
    };
  }
  return null;
}

/**
 * A fresh client message id: 32 hex digits from crypto.getRandomValues, which (unlike crypto.randomUUID)
 * also works on plain http from another machine of the local network.
 */
export function newClientMessageId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
