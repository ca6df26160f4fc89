// The React side of the page's one WebSocket (connection.ts): started when the signed-in app mounts, stopped
// when it unmounts. Views subscribe to its frames; each keeps what concerns its own conversation.

import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { AuthSession } from './auth/session';
import { ChatConnection, type ConnectionState } from './connection';
import type { ClientFrame, PingFrame, ServerFrame } from './protocol';
import { socketUrl, type RuntimeConfig } from './runtimeConfig';

export type FrameListener = (frame: ServerFrame) => void;

export interface Connection {
  state: ConnectionState;
  /** False (nothing sent) when the socket is not open. */
  send: (frame: Exclude<ClientFrame, PingFrame>) => boolean;
  /** Calls `listener` with every frame until the returned function is called. */
  subscribe: (listener: FrameListener) => () => void;
}

export function useConnection(config: RuntimeConfig, session: AuthSession): Connection {
  // The connection outlives renders and reads the latest session (a renewed one) at each reconnect.
  const sessionRef = useRef(session);
  useEffect(() => {
    sessionRef.current = session;
  }, [session]);
  const listeners = useRef(new Set<FrameListener>());
  const [state, setState] = useState<ConnectionState>('connecting');
  const [connection] = useState(
    // eslint-disable-next-line react-hooks/refs -- the constructor only keeps the getters; they run from start() (an effect) on
    () =>
      new ChatConnection({
        socketUrl: (token) => socketUrl(config, token, window.location.href),
        session: () => sessionRef.current,
        onFrame: (frame) => {
          for (const listener of listeners.current) listener(frame);
        },
        onState: setState,
      }),
  );

  useEffect(() => {
    connection.start();
    // Back online: try now instead of waiting out the backoff.
    const onOnline = () => connection.reconnectNow();
    window.addEventListener('online', onOnline);
    return () => {
      window.removeEventListener('online', onOnline);
      connection.stop();
    };
  }, [connection]);

  const send = useCallback((frame: Exclude<ClientFrame, PingFrame>) => connection.send(frame), [connection]);
  const subscribe = useCallback((listener: FrameListener) => {
    listeners.current.add(listener);
    return () => {
      listeners.current.delete(listener);
    };
  }, []);
  return useMemo(() => ({ state, send, subscribe }), [state, send, subscribe]);
}
