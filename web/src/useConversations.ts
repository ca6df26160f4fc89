// The sidebar's state: the conversation list (reloaded when a frame says a conversation changed), which one
// is current (remembered across reloads, see conversations.ts), the turn each one is running, and the
// new / rename / delete actions.

import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { Api, ApiResult } from './api';
import {
  afterDelete,
  chooseConversation,
  memoryKey,
  rememberConversation,
  rememberedConversation,
  validTitle,
  type Current,
  type MemoryStorage,
} from './conversations';
import { newClientMessageId } from './chatState';
import type { ConversationSummary, TurnStatus } from './protocol';
import type { Connection } from './useConnection';

/** Frames come in bursts (ack, status, deltas, message): one list reload per burst is enough. */
const RELOAD_DELAY_MS = 300;

export interface Conversations {
  /** null until the first load. */
  list: ConversationSummary[] | null;
  listError: string | null;
  /** null until the first load decided. */
  current: Current | null;
  /** The running or queued turn of each conversation that has one. */
  turns: Readonly<Record<string, TurnStatus>>;
  select: (id: string) => void;
  startNew: () => void;
  /** Opens a conversation the server named but that has no message yet (after the `/new` command). */
  openNew: (id: string) => void;
  rename: (id: string, title: string) => Promise<ApiResult<null>>;
  remove: (id: string) => Promise<ApiResult<null>>;
  reload: () => void;
}

function localStore(): MemoryStorage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

export function useConversations(api: Api, connection: Connection, apiBase: string): Conversations {
  const [list, setList] = useState<ConversationSummary[] | null>(null);
  const [listError, setListError] = useState<string | null>(null);
  const [current, setCurrent] = useState<Current | null>(null);
  const [turns, setTurns] = useState<Record<string, TurnStatus>>({});
  const key = memoryKey(apiBase);

  // The frame listener and the reload timer outlive renders: they read the latest list through this ref.
  const listRef = useRef(list);
  useEffect(() => {
    listRef.current = list;
  }, [list]);

  const reload = useCallback(() => {
    void api.listConversations().then((result) => {
      if (result.ok) {
        setList(result.value);
        setListError(null);
      } else {
        setListError(result.message);
      }
      // The first answer decides where the page starts; a failed list still opens the remembered one.
      const remembered = rememberedConversation(localStore(), key);
      const fallback: Current = remembered !== null ? { id: remembered, isNew: false } : { id: newClientMessageId(), isNew: true };
      setCurrent((before) => before ?? (result.ok ? chooseConversation(remembered, result.value) : fallback));
    });
  }, [api, key]);

  useEffect(reload, [reload]);

  useEffect(() => {
    if (current !== null) rememberConversation(localStore(), key, current.id);
  }, [current, key]);

  const { subscribe, state: connectionState } = connection;
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const reloadSoon = () => {
      clearTimeout(timer);
      timer = setTimeout(reload, RELOAD_DELAY_MS);
    };
    const unsubscribe = subscribe((frame) => {
      if (frame.type === 'status') {
        setTurns((before) => {
          const others = { ...before };
          delete others[frame.conversationId];
          return frame.status === 'idle' ? others : { ...others, [frame.conversationId]: frame.status };
        });
      }
      // A message was stored (here, in another tab or from Telegram): titles, order and counts changed.
      if (frame.type === 'ack' || frame.type === 'message') reloadSoon();
    });
    return () => {
      clearTimeout(timer);
      unsubscribe();
    };
  }, [subscribe, reload]);

  // Without a socket nothing says how running turns go on: they are dropped while it is not open (adjusted
  // during render, when the connection state changes, so no render shows stale turns).
  const [turnsConnectionState, setTurnsConnectionState] = useState(connectionState);
  if (turnsConnectionState !== connectionState) {
    setTurnsConnectionState(connectionState);
    if (connectionState !== 'open') setTurns((before) => (Object.keys(before).length === 0 ? before : {}));
  }
  // After a reconnect the list may be stale.
  const wasOpen = useRef(false);
  useEffect(() => {
    if (connectionState === 'open' && wasOpen.current) reload();
    if (connectionState === 'open') wasOpen.current = true;
  }, [connectionState, reload]);

  const select = useCallback((id: string) => setCurrent({ id, isNew: false }), []);

  const openNew = useCallback((id: string) => setCurrent({ id, isNew: true }), []);

  const startNew = useCallback(() => {
    // An empty new conversation is reused rather than stacked.
    setCurrent((before) =>
      before?.isNew === true && !(listRef.current ?? []).some((c) => c.id === before.id)
        ? before
        : { id: newClientMessageId(), isNew: true },
    );
  }, []);

  const rename = useCallback(
    async (id: string, title: string): Promise<ApiResult<null>> => {
      const valid = validTitle(title);
      if (valid === null) return { ok: false, status: 400, message: 'A title is 1 to 200 characters.' };
      const result = await api.renameConversation(id, valid);
      if (result.ok) setList((before) => before?.map((c) => (c.id === id ? { ...c, title: valid } : c)) ?? before);
      return result;
    },
    [api],
  );

  const remove = useCallback(
    async (id: string): Promise<ApiResult<null>> => {
      const result = await api.deleteConversation(id);
      // Gone already (deleted in another tab) is as good as deleted here.
      if (!result.ok && result.status !== 404) return result;
      const before = listRef.current ?? [];
      setCurrent((shown) => (shown?.id === id ? afterDelete(id, before) : shown));
      setList(before.filter((c) => c.id !== id));
      reload();
      return { ok: true, value: null };
    },
    [api, reload],
  );

  return useMemo(
    () => ({ list, listError, current, turns, select, startNew, openNew, rename, remove, reload }),
    [list, listError, current, turns, select, startNew, openNew, rename, remove, reload],
  );
}
