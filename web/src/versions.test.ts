import { describe, expect, it } from 'vitest';
import { chatReducer, displayedMessages, initialChatState, lastExchange, type ChatAction, type ChatState } from './chatState';
import { parseMessagePage, type ExchangeVersion, type ServerFrame, type StoredMessage } from './protocol';

// Edit, regenerate and browsing the versions of the last exchange, as the reducer and its derived values see them.

const conversationId = 'c1';

function run(state: ChatState, ...actions: ChatAction[]): ChatState {
  return actions.reduce(chatReducer, state);
}

const frame = (f: ServerFrame): ChatAction => ({ kind: 'frame', frame: f });
const stored = (id: string, role: 'user' | 'assistant', content: string): StoredMessage => ({
  id,
  role,
  content,
  createdAt: '2026-12-07T19:00:00.000Z',
  channel: 'web',
});
const history = (messages: StoredMessage[], versions: ExchangeVersion[] = []): ChatAction => ({
  kind: 'historyLoaded',
  messages,
  full: false,
  versions,
});
const texts = (state: ChatState) => displayedMessages(state).messages.map((m) => m.text);

/** A page showing one finished exchange after an earlier one. */
function answered(): ChatState {
  return run(
    initialChatState(conversationId, { connection: 'open' }),
    { kind: 'historyRequested' },
    history([
      stored('u1', 'user', 'hi'),
      stored('a1', 'assistant', 'hello'),
      stored('u2', 'user', 'wombat?'),
      stored('a2', 'assistant', 'a marsupial'),
    ]),
  );
}

describe('edit and regenerate', () => {
  it('offers only the last exchange, and only while no turn runs', () => {
    const state = answered();
    expect(lastExchange(state)).toEqual({ userId: 'u2', replyId: 'a2' });
    expect(lastExchange(run(state, frame({ type: 'status', conversationId, status: 'queued' })))).toBeNull();
    const asked = run(state, { kind: 'send', clientMessageId: 'k3', text: 'more' });
    expect(lastExchange(asked)).toBeNull();
    const failed = run(state, frame({ type: 'error', code: 'llm_error', message: 'down', conversationId }));
    expect(lastExchange(failed)).toBeNull();
  });

  it('regenerate takes the reply away until the history brings it back as version 1 of 2', () => {
    let state = run(answered(), { kind: 'regenerate', clientMessageId: 'r1', messageId: 'a2' });
    expect(texts(state)).toEqual(['hi', 'hello', 'wombat?']);
    expect(lastExchange(state)).toBeNull();
    state = run(state, frame({ type: 'ack', clientMessageId: 'r1', conversationId, messageId: 'u2' }));
    expect(state.historyStale).toBe(true);
    expect(state.pendingRerun).toBeNull();
    const versions: ExchangeVersion[] = [
      { user: stored('u2', 'user', 'wombat?'), reply: stored('a2', 'assistant', 'a marsupial') },
      { user: stored('u2', 'user', 'wombat?'), reply: stored('a3', 'assistant', 'an animal') },
    ];
    state = run(
      state,
      { kind: 'historyRequested' },
      history(
        [
          stored('u1', 'user', 'hi'),
          stored('a1', 'assistant', 'hello'),
          stored('u2', 'user', 'wombat?'),
          stored('a3', 'assistant', 'an animal'),
        ],
        versions,
      ),
    );
    expect(texts(state)).toEqual(['hi', 'hello', 'wombat?', 'an animal']);
    const pager = displayedMessages(state).pager;
    expect(pager).toMatchObject({ index: 1, count: 2 });
    expect(pager?.anchorKey).toBe('m:a3');

    // The first version is browsable, view-only: no edit or regenerate on it.
    const earlier = run(state, { kind: 'browseVersion', index: 0 });
    expect(texts(earlier)).toEqual(['hi', 'hello', 'wombat?', 'a marsupial']);
    expect(displayedMessages(earlier).pager?.index).toBe(0);
    expect(lastExchange(earlier)).toBeNull();
    expect(run(earlier, { kind: 'browseVersion', index: 1 }).viewedVersion).toBeNull();
    expect(run(earlier, { kind: 'browseVersion', index: 5 })).toBe(earlier);
    expect(lastExchange(run(earlier, { kind: 'browseVersion', index: 1 }))).toEqual({ userId: 'u2', replyId: 'a3' });
  });

  it('edit replaces the message at once, and its ack and reply reload the versions', () => {
    let state = run(answered(), { kind: 'edit', clientMessageId: 'e1', messageId: 'u2', text: 'quokka?' });
    expect(texts(state)).toEqual(['hi', 'hello', 'quokka?']);
    expect(state.messages[2]).toMatchObject({ role: 'user', state: 'sending', clientMessageId: 'e1' });
    state = run(state, frame({ type: 'ack', clientMessageId: 'e1', conversationId, messageId: 'u3' }));
    expect(state.messages[2]).toMatchObject({ messageId: 'u3', state: 'sent' });
    expect(state.historyStale).toBe(true);
    const pending: ExchangeVersion[] = [
      { user: stored('u2', 'user', 'wombat?'), reply: stored('a2', 'assistant', 'a marsupial') },
      { user: stored('u3', 'user', 'quokka?'), reply: null },
    ];
    state = run(
      state,
      { kind: 'historyRequested' },
      history([stored('u1', 'user', 'hi'), stored('a1', 'assistant', 'hello'), stored('u3', 'user', 'quokka?')], pending),
    );
    // While the rerun runs the arrows go with the new message.
    expect(displayedMessages(state).pager).toMatchObject({ index: 1, count: 2, anchorKey: 'c:e1' });
    expect(texts(run(state, { kind: 'browseVersion', index: 0 }))).toEqual(['hi', 'hello', 'wombat?', 'a marsupial']);
    state = run(
      state,
      frame({
        type: 'message',
        conversationId,
        messageId: 'a4',
        role: 'assistant',
        content: 'a small wallaby',
        usage: { inputTokens: 1, outputTokens: 1 },
        costUsd: null,
        durationMs: 1,
      }),
    );
    expect(state.historyStale).toBe(true);
  });

  it('a refused edit brings back what the page took away', () => {
    let state = run(answered(), { kind: 'edit', clientMessageId: 'e1', messageId: 'u2', text: 'quokka?' });
    state = run(
      state,
      frame({ type: 'error', code: 'conflict', message: 'the conversation changed meanwhile', clientMessageId: 'e1', conversationId }),
    );
    expect(state.historyStale).toBe(true);
    expect(state.pendingRerun).toBeNull();
    expect(state.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'error']);
    state = run(
      state,
      { kind: 'historyRequested' },
      history([
        stored('u1', 'user', 'hi'),
        stored('a1', 'assistant', 'hello'),
        stored('u2', 'user', 'wombat?'),
        stored('a2', 'assistant', 'a marsupial'),
      ]),
    );
    expect(texts(state)).toEqual(['hi', 'hello', 'the conversation changed meanwhile', 'wombat?', 'a marsupial']);
  });

  it('a rerun that failed can be regenerated from its question', () => {
    const versions: ExchangeVersion[] = [
      { user: stored('u2', 'user', 'wombat?'), reply: stored('a2', 'assistant', 'a marsupial') },
      { user: stored('u2', 'user', 'wombat?'), reply: null },
    ];
    let state = run(
      answered(),
      { kind: 'historyRequested' },
      history([stored('u1', 'user', 'hi'), stored('a1', 'assistant', 'hello'), stored('u2', 'user', 'wombat?')], versions),
      frame({ type: 'error', code: 'llm_error', message: 'down', conversationId, clientMessageId: 'r1' }),
    );
    expect(lastExchange(state)).toEqual({ userId: 'u2', replyId: null });
    state = run(state, { kind: 'regenerate', clientMessageId: 'r2', messageId: 'u2' });
    expect(texts(state)).toEqual(['hi', 'hello', 'wombat?']);
    expect(state.pendingRerun).toBe('r2');
    // An unanswered message that is not a rerun is not offered (its error has Retry).
    const plain = run(
      initialChatState(conversationId, { connection: 'open' }),
      { kind: 'historyRequested' },
      history([stored('u1', 'user', 'hi')]),
    );
    expect(lastExchange(plain)).toBeNull();
  });

  it('a conversation without versions has no arrows', () => {
    expect(displayedMessages(answered()).pager).toBeNull();
  });
});

describe('parseMessagePage', () => {
  it('reads the versions of the last exchange beside the messages', () => {
    const user = stored('u2', 'user', 'wombat?');
    const reply = stored('a2', 'assistant', 'a marsupial');
    expect(
      parseMessagePage({
        messages: [user],
        versions: [
          { user, reply },
          { user, reply: null },
        ],
      }),
    ).toEqual({
      messages: [user],
      versions: [
        { user, reply },
        { user, reply: null },
      ],
    });
    expect(parseMessagePage({ messages: [user] })).toEqual({ messages: [user], versions: [] });
    // Versions only decorate the history: unreadable ones are dropped, the messages stay.
    expect(parseMessagePage({ messages: [user], versions: [{ user: { id: 'x' }, reply: null }] })).toEqual({
      messages: [user],
      versions: [],
    });
    expect(parseMessagePage({ versions: [] })).toBeNull();
  });
});
