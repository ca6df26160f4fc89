// The React hook that connects the chat state (chatState.ts) to the server: one WebSocket that reconnects with
// backoff, and the REST history load. Decisions about what the frames mean stay in the reducer.

import { useCallback, useEffect, useReducer, useRef } from 'react';
import {
  chatReducer,
  checkOutgoing,
  DEFAULT_CONVERSATION_ID,
  HISTORY_LIMIT,
  initialChatState,
  newClientMessageId,
  unacknowledgedSends,
  type ChatAction,
  type ChatState,
} from './chatState';
import {
  parseApiError,
  parseMessagesResponse,
  parseServerFrame,
  type CancelFrame,
  type ClientFrame,
  type SendMessageFrame,
} from './protocol';
import { restUrl, socketUrl, type RuntimeConfig } from './runtimeConfig';

/** Reconnect delays grow from the first to the last, doubling, with ±25 % jitter. */
const RECONNECT_FIRST_MS = 500;
const RECONNECT_MAX_MS = 15_000;
/** A ping keeps idle connections open through proxies; a socket silent for too long is taken as dead. */
const PING_EVERY_MS = 25_000;
const SILENT_LIMIT_MS = 70_000;

export interface Chat {
  state: ChatState;
  /** Sends a message; false when it was not sent (blank, too large, or no open socket). */
  send: (text: string) => boolean;
  /** Asks the server to abort the running turn. */
  cancel: () => void;
}

async function fetchHistory(config: RuntimeConfig, token: string, conversationId: string): Promise<ChatAction> {
  const path = `/api/conversations/${encodeURIComponent(conversationId)}/messages?limit=${HISTORY_LIMIT}`;
  let response: Response;
  try {
    response = await fetch(restUrl(config, path, window.location.href), {
      headers: { Authorization: `Bearer ${token}` },
      cache: 'no-store',
    });
  } catch {
    return { kind: 'historyFailed', message: 'Could not reach the server.' };
  }
  if (response.status === 401) return { kind: 'unauthorized' };
  // The conversation is created by its first message.
  if (response.status === 404) return { kind: 'historyLoaded', messages: [] };
  const body: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const error = parseApiError(body);
    return { kind: 'historyFailed', message: error?.message ?? `The server answered HTTP ${response.status}.` };
  }
  const messages = parseMessagesResponse(body);
  return messages === null
    ? { kind: 'historyFailed', message: 'The server sent a history this page does not understand.' }
    : { kind: 'historyLoaded', messages };
}

export function useChat(config: RuntimeConfig, token: string, conversationId: string = DEFAULT_CONVERSATION_ID): Chat {
  const [state, dispatch] = useReducer(chatReducer, conversationId, initialChatState);
  const socketRef = useRef<WebSocket | null>(null);
  // The socket's handlers outlive renders; they read the latest state through this ref.
  const stateRef = useRef(state);
  useEffect(() => {
    stateRef.current = state;
  }, [state]);

  const authInvalid = state.auth === 'invalid';

  useEffect(() => {
    if (authInvalid) return;
    let stopped = false;
    let socket: WebSocket | null = null;
    let opened = false;
    let attempt = 0;
    let lastFrameAt = Date.now();
    let retryTimer: ReturnType<typeof setTimeout> | undefined;

    const send = (ws: WebSocket, frame: ClientFrame) => ws.send(JSON.stringify(frame));

    const scheduleReconnect = () => {
      const base = Math.min(RECONNECT_MAX_MS, RECONNECT_FIRST_MS * 2 ** attempt);
      attempt += 1;
      retryTimer = setTimeout(connect, base * (0.75 + Math.random() * 0.5));
    };

    // Handlers are detached before closing so a socket given up on can never dispatch again.
    const drop = (ws: WebSocket) => {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      ws.close();
      if (socket !== ws) return;
      socket = null;
      socketRef.current = null;
      if (stopped) return;
      dispatch({ kind: 'connection', state: opened ? 'reconnecting' : 'connecting' });
      scheduleReconnect();
    };

    function connect() {
      retryTimer = undefined;
      const ws = new WebSocket(socketUrl(config, token, window.location.href));
      socket = ws;
      ws.onopen = () => {
        opened = true;
        attempt = 0;
        lastFrameAt = Date.now();
        socketRef.current = ws;
        dispatch({ kind: 'connection', state: 'open' });
        // The server answers a repeated clientMessageId with the same ack and never runs it twice.
        for (const frame of unacknowledgedSends(stateRef.current)) send(ws, frame);
      };
      ws.onmessage = (event: MessageEvent) => {
        lastFrameAt = Date.now();
        if (typeof event.data !== 'string') return;
        const frame = parseServerFrame(event.data);
        if (frame === null) {
          console.warn('ignored a frame that does not follow the protocol', event.data);
          return;
        }
        dispatch({ kind: 'frame', frame });
      };
      ws.onclose = () => drop(ws);
    }

    const keepAlive = setInterval(() => {
      if (socket === null || socket.readyState !== WebSocket.OPEN) return;
      if (Date.now() - lastFrameAt > SILENT_LIMIT_MS) drop(socket);
      else send(socket, { action: 'ping' });
    }, PING_EVERY_MS);

    // Back online: try now instead of waiting out the backoff.
    const onOnline = () => {
      if (retryTimer === undefined) return;
      clearTimeout(retryTimer);
      connect();
    };
    window.addEventListener('online', onOnline);

    connect();
    return () => {
      stopped = true;
      clearInterval(keepAlive);
      clearTimeout(retryTimer);
      window.removeEventListener('online', onOnline);
      if (socket !== null) drop(socket);
    };
  }, [config, token, authInvalid]);

  // One history request at a time; when it ends, `state.history` changes and a stale flag raised meanwhile
  // starts the next one.
  const historyInFlight = useRef(false);
  useEffect(() => {
    if (!state.historyStale || authInvalid || historyInFlight.current) return;
    historyInFlight.current = true;
    dispatch({ kind: 'historyRequested' });
    void fetchHistory(config, token, conversationId).then((action) => {
      historyInFlight.current = false;
      dispatch(action);
    });
  }, [state.historyStale, state.history, authInvalid, config, token, conversationId]);

  const send = useCallback(
    (text: string): boolean => {
      const problem = checkOutgoing(text);
      if (problem !== null) {
        if (problem.code !== 'bad_request') dispatch({ kind: 'localError', ...problem });
        return false;
      }
      const ws = socketRef.current;
      if (ws === null || ws.readyState !== WebSocket.OPEN) return false;
      const clientMessageId = newClientMessageId();
      const frame: SendMessageFrame = { action: 'sendMessage', conversationId, message: text, clientMessageId };
      dispatch({ kind: 'send', clientMessageId, text });
      ws.send(JSON.stringify(frame));
      return true;
    },
    [conversationId],
  );

  const cancel = useCallback(() => {
    const ws = socketRef.current;
    if (ws !== null && ws.readyState === WebSocket.OPEN) {
      const frame: CancelFrame = { action: 'cancel', conversationId };
      ws.send(JSON.stringify(frame));
    }
  }, [conversationId]);

  return { state, send, cancel };
}
