import { describe, expect, it } from 'vitest';
import {
  chatReducer,
  checkOutgoing,
  initialChatState,
  newClientMessageId,
  oldestStoredId,
  turnLabel,
  type ChatAction,
  type ChatState,
} from './chatState';
import { ID_PATTERN, type ServerFrame, type StoredMessage } from './protocol';

const conversationId = 'default';

function run(state: ChatState, ...actions: ChatAction[]): ChatState {
  return actions.reduce(chatReducer, state);
}

function frame(f: ServerFrame): ChatAction {
  return { kind: 'frame', frame: f };
}

const ack = (clientMessageId: string, messageId: string) => frame({ type: 'ack', clientMessageId, conversationId, messageId });
const status = (s: 'queued' | 'starting' | 'running' | 'idle') => frame({ type: 'status', conversationId, status: s });
const delta = (messageId: string, text: string, replace = false) => frame({ type: 'delta', conversationId, messageId, text, replace });
const final = (messageId: string, content: string) =>
  frame({
    type: 'message',
    conversationId,
    messageId,
    role: 'assistant',
    content,
    usage: { inputTokens: 120, outputTokens: 7 },
    costUsd: 0.0021,
    durationMs: 1500,
  });
const tool = (messageId: string, toolId: string, status: 'running' | 'ok' | 'error', durationMs?: number) =>
  frame({
    type: 'activity',
    conversationId,
    messageId,
    toolId,
    name: 'exec',
    summary: `echo ${toolId}`,
    status,
    ...(durationMs === undefined ? {} : { durationMs }),
  });
const stored = (id: string, role: 'user' | 'assistant', content: string): StoredMessage => ({
  id,
  role,
  content,
  createdAt: '2026-11-21T13:35:22.123Z',
  channel: 'web',
});

/** A connected page with its (empty) history loaded. */
function ready(): ChatState {
  return run(
    initialChatState(conversationId),
    { kind: 'historyRequested' },
    { kind: 'connection', state: 'open' },
    { kind: 'historyLoaded', messages: [], full: false },
  );
}

function summary(state: ChatState) {
  return state.messages.map((m) => [m.role, m.text, m.role === 'error' ? m.code : m.role === 'notice' ? null : m.state]);
}

describe('sending', () => {
  it('shows the user message at once and maps it to the server id on ack', () => {
    const sent = run(ready(), { kind: 'send', clientMessageId: 'c1', text: 'hello\nworld' });
    expect(sent.messages).toEqual([{ key: 'c:c1', role: 'user', text: 'hello\nworld', clientMessageId: 'c1', state: 'sending' }]);
    const acked = run(sent, ack('c1', 'm1'));
    expect(acked.messages[0]).toEqual({
      key: 'c:c1',
      role: 'user',
      text: 'hello\nworld',
      clientMessageId: 'c1',
      messageId: 'm1',
      state: 'sent',
    });
  });

  it('does not add the same client message twice', () => {
    const send: ChatAction = { kind: 'send', clientMessageId: 'c1', text: 'a' };
    const state = run(ready(), send, send);
    expect(state.messages).toHaveLength(1);
  });

  it("shows a command's notice under it, marks the command sent, and keeps both across a history reload", () => {
    const notice = frame({ type: 'notice', conversationId, clientMessageId: 'c1', text: 'Thinking: **high**' });
    const state = run(ready(), { kind: 'send', clientMessageId: 'c1', text: '/think high' }, notice, notice);
    expect(summary(state)).toEqual([
      ['user', '/think high', 'sent'],
      ['notice', 'Thinking: **high**', null],
    ]);
    const reloaded = run(state, { kind: 'historyRequested' }, { kind: 'historyLoaded', messages: [], full: false });
    expect(summary(reloaded)).toEqual(summary(state));
    // Another conversation's notice is not shown here.
    const other = frame({ type: 'notice', conversationId: 'other', clientMessageId: 'c2', text: 'x' });
    expect(run(state, other)).toBe(state);
  });

  it('shows the transcript of a voice note under its audio, and reloads for one it does not know', () => {
    const voice = { id: 'a1', name: 'voice.webm', mediaType: 'audio/webm', size: 900, kind: 'audio' as const, createdAt: 't' };
    const sent = run(ready(), { kind: 'send', clientMessageId: 'c1', text: '', attachments: [voice] }, ack('c1', 'm1'));
    const heard = run(sent, frame({ type: 'transcript', conversationId, messageId: 'm1', attachmentId: 'a1', text: 'hello there' }));
    const message = heard.messages[0];
    expect(message?.role === 'user' ? message.attachments : null).toEqual([{ ...voice, transcript: 'hello there' }]);
    expect(heard.historyStale).toBe(false);
    const unknown = run(sent, frame({ type: 'transcript', conversationId, messageId: 'm9', attachmentId: 'a9', text: 'x' }));
    expect(unknown.historyStale).toBe(true);
    const other = frame({ type: 'transcript', conversationId: 'other', messageId: 'm1', attachmentId: 'a1', text: 'x' });
    expect(run(sent, other)).toBe(sent);
  });

  it('reloads the history when another tab sent a message (an ack for an unknown client id)', () => {
    const state = run(ready(), ack('from-other-tab', 'm9'));
    expect(state.historyStale).toBe(true);
    expect(state.messages).toEqual([]);
  });
});

describe('streaming a reply', () => {
  it('concatenates deltas into one assistant bubble', () => {
    const state = run(ready(), delta('a1', 'Hel'), delta('a1', 'lo'), delta('a1', ' there'));
    expect(summary(state)).toEqual([['assistant', 'Hello there', 'streaming']]);
  });

  it('lets a replace delta rewrite the streamed text', () => {
    const state = run(ready(), delta('a1', 'Helo'), delta('a1', 'Hello', true), delta('a1', ' there'));
    expect(summary(state)).toEqual([['assistant', 'Hello there', 'streaming']]);
  });

  it('creates the bubble for deltas of a message it does not know, once', () => {
    const state = run(ready(), delta('a1', 'x'), delta('a1', 'x'));
    expect(summary(state)).toEqual([['assistant', 'xx', 'streaming']]);
    expect(state.messages[0]).toMatchObject({ key: 'm:a1', messageId: 'a1' });
  });

  it('keeps replies of different messages apart', () => {
    const state = run(ready(), delta('a1', 'one'), delta('a2', 'two'), delta('a1', '!'));
    expect(summary(state)).toEqual([
      ['assistant', 'one!', 'streaming'],
      ['assistant', 'two', 'streaming'],
    ]);
  });

  it('replaces the streamed text with the final message and shows its usage', () => {
    const state = run(ready(), delta('a1', 'draft tex'), final('a1', 'Final text.'));
    expect(state.messages).toEqual([
      {
        key: 'm:a1',
        role: 'assistant',
        text: 'Final text.',
        messageId: 'a1',
        state: 'final',
        meta: { inputTokens: 120, outputTokens: 7, costUsd: 0.0021, durationMs: 1500 },
      },
    ]);
  });

  it('shows a final message that had no deltas', () => {
    const state = run(ready(), final('a1', 'All at once.'));
    expect(summary(state)).toEqual([['assistant', 'All at once.', 'final']]);
  });

  it('ignores a late delta after the final message', () => {
    const state = run(ready(), delta('a1', 'Hi'), final('a1', 'Hi.'), delta('a1', ' late'));
    expect(summary(state)).toEqual([['assistant', 'Hi.', 'final']]);
  });

  it('ignores frames of other conversations', () => {
    const other = frame({ type: 'delta', conversationId: 'other', messageId: 'a1', text: 'x', replace: false });
    const otherStatus = frame({ type: 'status', conversationId: 'other', status: 'running' });
    const state = run(ready(), other, otherStatus);
    expect(state.messages).toEqual([]);
    expect(state.turn).toBe('idle');
  });
});

describe('tool activity', () => {
  const assistant = (state: ChatState) => state.messages.find((m) => m.role === 'assistant');

  it('starts the reply with rows that tools add and ends replace, in start order', () => {
    const state = run(ready(), status('running'), tool('r1', 'a', 'running'), tool('r1', 'b', 'running'), tool('r1', 'a', 'ok', 40));
    const reply = assistant(state);
    expect(reply).toMatchObject({ text: '', state: 'streaming', messageId: 'r1' });
    expect(reply?.role === 'assistant' && reply.activity).toEqual({
      workedMs: 0,
      toolCount: 2,
      tools: [
        { toolId: 'a', name: 'exec', summary: 'echo a', status: 'ok', durationMs: 40 },
        { toolId: 'b', name: 'exec', summary: 'echo b', status: 'running' },
      ],
    });
    // Text streams into the same bubble, which keeps its rows.
    const streamed = run(state, delta('r1', 'Done'), tool('r1', 'b', 'error', 7));
    const grown = assistant(streamed);
    expect(grown?.text).toBe('Done');
    expect(grown?.role === 'assistant' && grown.activity?.tools.map((t) => t.status)).toEqual(['ok', 'error']);
  });

  it("takes the final message's record, and ignores tool frames after it", () => {
    const activity = {
      workedMs: 2500,
      toolCount: 1,
      tools: [{ toolId: 'a', name: 'exec', summary: 'echo a', status: 'ok' as const, durationMs: 40 }],
    };
    const state = run(
      ready(),
      tool('r1', 'a', 'running'),
      frame({
        type: 'message',
        conversationId,
        messageId: 'r1',
        role: 'assistant',
        content: 'Hi',
        usage: { inputTokens: 1, outputTokens: 1 },
        costUsd: null,
        durationMs: 2500,
        activity,
      }),
      tool('r1', 'late', 'running'),
    );
    expect(assistant(state)).toMatchObject({ state: 'final', text: 'Hi', activity });
  });

  it('a turn that ends without its reply keeps the rows, no longer live', () => {
    const state = run(ready(), status('running'), tool('r1', 'a', 'running'), status('idle'));
    expect(assistant(state)).toMatchObject({ state: 'interrupted', activity: { toolCount: 1 } });
  });

  it('frames of another conversation are ignored', () => {
    const state = run(
      ready(),
      frame({ type: 'activity', conversationId: 'other', messageId: 'r1', toolId: 'a', name: 'exec', summary: '', status: 'running' }),
    );
    expect(state.messages).toEqual([]);
  });

  it('the history brings the stored activity back after a reload, and replies without one have none', () => {
    const activity = { workedMs: 4000, toolCount: 2, tools: [] };
    const state = run(ready(), {
      kind: 'historyLoaded',
      messages: [stored('u1', 'user', 'hi'), { ...stored('r0', 'assistant', 'old') }, { ...stored('r1', 'assistant', 'worked'), activity }],
      full: false,
    });
    expect(state.messages.map((m) => (m.role === 'assistant' ? m.activity : null))).toEqual([null, undefined, activity]);
  });
});

describe('turn status', () => {
  it('follows queued, starting, running and idle', () => {
    const seen: (string | null)[] = [];
    let state = ready();
    for (const s of ['queued', 'starting', 'running', 'idle'] as const) {
      state = run(state, status(s));
      expect(state.turn).toBe(s);
      seen.push(turnLabel(state.turn));
    }
    expect(seen).toEqual(['Thinking…', 'Waking up the agent…', 'Thinking…', null]);
  });

  it('marks a reply that never got its final message as interrupted when the turn ends', () => {
    const state = run(ready(), status('running'), delta('a1', 'part'), status('idle'));
    expect(summary(state)).toEqual([['assistant', 'part', 'interrupted']]);
  });

  it('takes a delta as a running turn when no status was seen (after a reconnect)', () => {
    expect(run(ready(), delta('a1', 'x')).turn).toBe('running');
  });
});

describe('errors', () => {
  it('shows an error frame as an error bubble with its code', () => {
    const state = run(
      ready(),
      { kind: 'send', clientMessageId: 'c1', text: 'hi' },
      ack('c1', 'm1'),
      status('running'),
      delta('a1', 'partial'),
      frame({ type: 'error', code: 'llm_error', message: 'The provider refused the key.', conversationId }),
    );
    expect(summary(state)).toEqual([
      ['user', 'hi', 'sent'],
      ['assistant', 'partial', 'interrupted'],
      ['error', 'The provider refused the key.', 'llm_error'],
    ]);
  });

  it('marks a refused send as failed so it is not resent', () => {
    const state = run(
      ready(),
      { kind: 'send', clientMessageId: 'c1', text: 'way too long' },
      frame({ type: 'error', code: 'too_large', message: 'Too large.', clientMessageId: 'c1' }),
    );
    expect(summary(state)).toEqual([
      ['user', 'way too long', 'failed'],
      ['error', 'Too large.', 'too_large'],
    ]);
    // The same text would be refused again: no Retry.
    expect(state.messages[1]).not.toHaveProperty('retryText');
  });

  it('offers the text of a failed turn for a retry', () => {
    const state = run(
      ready(),
      { kind: 'send', clientMessageId: 'c1', text: 'first' },
      { kind: 'send', clientMessageId: 'c2', text: 'second' },
      ack('c1', 'm1'),
      ack('c2', 'm2'),
      frame({ type: 'error', code: 'llm_error', message: 'The provider is down.', clientMessageId: 'c2', conversationId }),
    );
    expect(state.messages[2]).toMatchObject({ role: 'error', code: 'llm_error', retryText: 'second' });
    // The user message was stored: it stays sent.
    expect(summary(state)[1]).toEqual(['user', 'second', 'sent']);
  });

  it('offers no retry for an error that names no message of this page', () => {
    const state = run(ready(), frame({ type: 'error', code: 'llm_error', message: 'x', clientMessageId: 'elsewhere', conversationId }));
    expect(state.messages[0]).not.toHaveProperty('retryText');
  });

  it('gives every error bubble its own key', () => {
    const state = run(
      ready(),
      { kind: 'localError', code: 'too_large', message: 'a' },
      frame({ type: 'error', code: 'bad_request', message: 'b' }),
    );
    expect(state.messages.map((m) => m.key)).toEqual(['e:0', 'e:1']);
  });
});

describe('connection', () => {
  it('does not reload the history on the first open, but does after a reconnect', () => {
    let state = ready();
    expect(state.historyStale).toBe(false);
    state = run(state, { kind: 'connection', state: 'reconnecting' });
    expect(state.connection).toBe('reconnecting');
    state = run(state, { kind: 'connection', state: 'open' });
    expect(state.connection).toBe('open');
    expect(state.historyStale).toBe(true);
  });

  it('retries a failed first history load once the socket opens', () => {
    const state = run(
      initialChatState(conversationId),
      { kind: 'historyRequested' },
      { kind: 'historyFailed', message: 'Could not reach the server.' },
      { kind: 'connection', state: 'open' },
    );
    expect(state.historyError).toBe('Could not reach the server.');
    expect(state.historyStale).toBe(true);
  });

  it('forgets the running turn and stops streaming when the socket drops', () => {
    const state = run(ready(), status('running'), delta('a1', 'par'), { kind: 'connection', state: 'reconnecting' });
    expect(state.turn).toBe('idle');
    expect(summary(state)).toEqual([['assistant', 'par', 'interrupted']]);
    const resumed = run(state, { kind: 'connection', state: 'open' }, delta('a1', 't'), final('a1', 'part.'));
    expect(summary(resumed)).toEqual([['assistant', 'part.', 'final']]);
  });
});

describe('history', () => {
  it('shows the stored messages oldest first', () => {
    const state = run(initialChatState(conversationId), {
      kind: 'historyLoaded',
      messages: [stored('m1', 'user', 'hi'), stored('m2', 'assistant', 'hello\nthere')],
      full: false,
    });
    expect(state.history).toBe('loaded');
    expect(state.hasEarlier).toBe(false);
    expect(summary(state)).toEqual([
      ['user', 'hi', 'sent'],
      ['assistant', 'hello\nthere', 'final'],
    ]);
  });

  it('merges a reload with what the page already shows', () => {
    const before = run(
      ready(),
      { kind: 'send', clientMessageId: 'c1', text: 'hi' },
      ack('c1', 'm1'),
      final('a1', 'hello'),
      frame({ type: 'error', code: 'timeout', message: 'Took too long.', conversationId }),
      delta('a2', 'streamed while away'),
      { kind: 'send', clientMessageId: 'c3', text: 'not acked yet' },
    );
    const after = run(before, {
      kind: 'historyLoaded',
      messages: [
        stored('m0', 'user', 'older'),
        stored('m1', 'user', 'hi'),
        stored('a1', 'assistant', 'hello'),
        stored('m2', 'user', 'from another tab'),
        stored('a2', 'assistant', 'streamed while away, stored'),
      ],
      full: false,
    });
    expect(summary(after)).toEqual([
      ['user', 'older', 'sent'],
      ['user', 'hi', 'sent'],
      ['assistant', 'hello', 'final'],
      ['error', 'Took too long.', 'timeout'],
      ['user', 'from another tab', 'sent'],
      ['assistant', 'streamed while away, stored', 'final'],
      ['user', 'not acked yet', 'sending'],
    ]);
    // The bubbles the page already had keep their keys and what only the live frames told.
    expect(after.messages[1]).toMatchObject({ key: 'c:c1', clientMessageId: 'c1' });
    expect(after.messages[2]).toMatchObject({ key: 'm:a1', meta: { inputTokens: 120, outputTokens: 7 } });
  });
});

describe('history pages', () => {
  const page = (from: number, to: number) =>
    Array.from({ length: to - from }, (_, i) =>
      stored(`m${String(from + i).padStart(3, '0')}`, i % 2 === 0 ? 'user' : 'assistant', `text ${from + i}`),
    );

  it('shows the tokens and cost the server stored with an assistant message', () => {
    const withUsage: StoredMessage = { ...stored('a1', 'assistant', 'hi'), usage: { inputTokens: 900, outputTokens: 12 }, costUsd: 0.0031 };
    const noCost: StoredMessage = { ...stored('a2', 'assistant', 'ho'), usage: { inputTokens: 5, outputTokens: 1 }, costUsd: null };
    const state = run(initialChatState(conversationId), {
      kind: 'historyLoaded',
      messages: [withUsage, noCost, stored('a3', 'assistant', 'old')],
      full: false,
    });
    expect(state.messages.map((m) => (m.role === 'assistant' ? m.meta : null))).toEqual([
      { inputTokens: 900, outputTokens: 12, costUsd: 0.0031 },
      { inputTokens: 5, outputTokens: 1, costUsd: null },
      undefined,
    ]);
  });

  it('offers earlier messages after a full page and puts them before the newest', () => {
    let state = run(initialChatState(conversationId), { kind: 'historyLoaded', messages: page(50, 100), full: true });
    expect(state.hasEarlier).toBe(true);
    expect(oldestStoredId(state)).toBe('m050');
    state = run(state, { kind: 'earlierRequested' });
    expect(state.earlier).toBe('loading');
    state = run(state, { kind: 'earlierLoaded', messages: page(0, 50), full: true });
    expect(state.messages.map((m) => m.text).slice(0, 2)).toEqual(['text 0', 'text 1']);
    expect(state.messages).toHaveLength(100);
    expect(oldestStoredId(state)).toBe('m000');
    expect(state.earlier).toBe('idle');
    state = run(state, { kind: 'earlierRequested' }, { kind: 'earlierLoaded', messages: [], full: false });
    expect(state.hasEarlier).toBe(false);
    expect(state.messages).toHaveLength(100);
  });

  it('keeps earlier pages and their order through a reload of the newest page', () => {
    let state = run(
      initialChatState(conversationId),
      { kind: 'historyLoaded', messages: page(50, 100), full: true },
      { kind: 'earlierLoaded', messages: page(0, 50), full: false },
    );
    state = run(state, { kind: 'historyLoaded', messages: page(52, 102), full: true });
    expect(state.messages).toHaveLength(102);
    expect(state.messages.map((m) => m.text)).toEqual(Array.from({ length: 102 }, (_, i) => `text ${i}`));
    expect(state.hasEarlier).toBe(false);
  });

  it('does not add a message twice when a page overlaps what is shown', () => {
    const state = run(
      initialChatState(conversationId),
      { kind: 'historyLoaded', messages: page(10, 20), full: true },
      { kind: 'earlierLoaded', messages: page(5, 12), full: true },
    );
    expect(state.messages.map((m) => m.text)).toEqual(Array.from({ length: 15 }, (_, i) => `text ${i + 5}`));
  });

  it('reports a failed earlier page without losing what is shown', () => {
    const state = run(
      initialChatState(conversationId),
      { kind: 'historyLoaded', messages: page(0, 50), full: true },
      { kind: 'earlierRequested' },
      { kind: 'earlierFailed', message: 'Could not reach the server.' },
    );
    expect(state.earlier).toBe('failed');
    expect(state.earlierError).toBe('Could not reach the server.');
    expect(state.messages).toHaveLength(50);
  });

  it('loads nothing for a conversation that does not exist on the server yet', () => {
    const state = initialChatState('draft1', { isNew: true, connection: 'open', turn: 'idle' });
    expect(state.history).toBe('loaded');
    expect(state.historyStale).toBe(false);
    expect(state.hasConnected).toBe(true);
  });
});

describe('checkOutgoing', () => {
  it('refuses blank messages and messages over 32 KiB of UTF-8', () => {
    expect(checkOutgoing(' \n\t')?.code).toBe('bad_request');
    expect(checkOutgoing('a'.repeat(32_768))).toBeNull();
    // 'é' is two bytes: 16,385 of them are 32,770 bytes.
    expect(checkOutgoing('é'.repeat(16_385))?.code).toBe('too_large');
    expect(checkOutgoing('hi')).toBeNull();
  });
});

describe('newClientMessageId', () => {
  it('makes distinct ids the server accepts', () => {
    const ids = new Set(Array.from({ length: 100 }, newClientMessageId));
    expect(ids.size).toBe(100);
    for (const id of ids) expect(id).toMatch(ID_PATTERN);
  });
});
