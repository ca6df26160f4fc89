// One conversation's chat, wired: the reducer of chatState.ts fed with the frames of the shared connection,
// the newest history page (again after every reconnect), earlier pages on request, and sending, retrying and
// cancelling. Decisions about what the frames mean stay in the reducer.

import { useCallback, useEffect, useReducer, useRef } from 'react';
import type { Api } from './api';
import {
  chatReducer,
  checkOutgoing,
  HISTORY_PAGE,
  initialChatState,
  newClientMessageId,
  oldestStoredId,
  type ChatAction,
  type ChatState,
} from './chatState';
import type { Attachment, SendMessageFrame, TurnStatus } from './protocol';
import type { Connection } from './useConnection';

export interface Chat {
  state: ChatState;
  /**
   * Sends a message (and the attachments uploaded for it) with a new client message id; false when it was
   * not sent (blank without attachments, too large, or no open socket).
   */
  send: (text: string, attachments?: Attachment[]) => boolean;
  /** Asks the server to abort the running turn. */
  cancel: () => void;
  loadEarlier: () => void;
  /**
   * Asks for another answer to the last user message: `messageId` is the last reply (it becomes an earlier
   * version), or the last user message when its rerun failed; false when not sent.
   */
  regenerate: (messageId: string) => boolean;
  /** Replaces the last user message by `text` and asks for its answer; false when not sent (blank, too large, no socket). */
  edit: (messageId: string, text: string) => boolean;
  /** Shows version `index` of the last exchange. */
  browseVersion: (index: number) => void;
}

async function loadHistory(api: Api, conversationId: string): Promise<ChatAction> {
  const result = await api.messages(conversationId, HISTORY_PAGE);
  if (result.ok) {
    const { messages, versions } = result.value;
    return { kind: 'historyLoaded', messages, full: messages.length === HISTORY_PAGE, versions };
  }
  // A conversation is created by its first message: until then there is nothing to show.
  if (result.status === 404) return { kind: 'historyLoaded', messages: [], full: false };
  return { kind: 'historyFailed', message: result.message };
}

export function useChat(
  conversationId: string,
  start: { isNew: boolean; turn: TurnStatus },
  connection: Connection,
  api: Api,
  /** Called with the conversation the `/new` command opened. */
  onNewConversation: (id: string) => void,
): Chat {
  const [state, dispatch] = useReducer(chatReducer, null, () =>
    initialChatState(conversationId, { isNew: start.isNew, turn: start.turn, connection: connection.state }),
  );

  const { subscribe } = connection;
  useEffect(
    () =>
      subscribe((frame) => {
        dispatch({ kind: 'frame', frame });
        if (frame.type === 'notice' && frame.conversationId === conversationId && frame.newConversationId !== undefined) {
          onNewConversation(frame.newConversationId);
        }
      }),
    [subscribe, conversationId, onNewConversation],
  );
  useEffect(() => dispatch({ kind: 'connection', state: connection.state }), [connection.state]);

  // One history request at a time; when it ends, `state.history` changes and a stale flag raised meanwhile
  // starts the next one.
  const historyInFlight = useRef(false);
  useEffect(() => {
    if (!state.historyStale || historyInFlight.current) return;
    historyInFlight.current = true;
    dispatch({ kind: 'historyRequested' });
    void loadHistory(api, conversationId).then((action) => {
      historyInFlight.current = false;
      dispatch(action);
    });
  }, [state.historyStale, state.history, api, conversationId]);

  const oldest = oldestStoredId(state);
  const earlierLoading = state.earlier === 'loading';
  const loadEarlier = useCallback(() => {
    if (oldest === null || earlierLoading) return;
    dispatch({ kind: 'earlierRequested' });
    void api
      .messages(conversationId, HISTORY_PAGE, oldest)
      .then((result) =>
        dispatch(
          result.ok
            ? { kind: 'earlierLoaded', messages: result.value.messages, full: result.value.messages.length === HISTORY_PAGE }
            : { kind: 'earlierFailed', message: result.message },
        ),
      );
  }, [api, conversationId, oldest, earlierLoading]);

  const { send: sendFrame } = connection;
  const send = useCallback(
    (text: string, attachments: Attachment[] = []): boolean => {
      const problem = checkOutgoing(text, attachments.length);
      if (problem !== null) {
        if (problem.code !== 'bad_request') dispatch({ kind: 'localError', ...problem });
        return false;
      }
      const clientMessageId = newClientMessageId();
      const frame: SendMessageFrame = { action: 'sendMessage', conversationId, message: text, clientMessageId };
      if (attachments.length > 0) frame.attachments = attachments.map((a) => a.id);
      if (!sendFrame(frame)) return false;
      dispatch({ kind: 'send', clientMessageId, text, attachments });
      return true;
    },
    [conversationId, sendFrame],
  );

  const cancel = useCallback(() => {
    sendFrame({ action: 'cancel', conversationId });
  }, [conversationId, sendFrame]);

  const regenerate = useCallback(
    (messageId: string): boolean => {
      const clientMessageId = newClientMessageId();
      if (!sendFrame({ action: 'regenerate', conversationId, messageId, clientMessageId })) return false;
      dispatch({ kind: 'regenerate', clientMessageId, messageId });
      return true;
    },
    [conversationId, sendFrame],
  );

  const edit = useCallback(
    (messageId: string, text: string): boolean => {
      const problem = checkOutgoing(text);
      if (problem !== null) {
        if (problem.code !== 'bad_request') dispatch({ kind: 'localError', ...problem });
        return false;
      }
      const clientMessageId = newClientMessageId();
      if (!sendFrame({ action: 'editMessage', conversationId, messageId, message: text, clientMessageId })) return false;
      dispatch({ kind: 'edit', clientMessageId, messageId, text });
      return true;
    },
    [conversationId, sendFrame],
  );

  const browseVersion = useCallback((index: number) => dispatch({ kind: 'browseVersion', index }), []);

  return { state, send, cancel, loadEarlier, regenerate, edit, browseVersion };
}
