// Which conversation the page shows. The current one is remembered in localStorage (per origin, and per
// API for a page that could talk to more than one), so a reload comes back to it; one that no longer exists
// falls back to the most recently updated, or to a new one. A new conversation exists only on this page until
// its first message: the server creates it then, titled from that message, so "New" leaves no empty
// conversations behind.

import type { ConversationSummary } from './protocol';
import { newClientMessageId } from './chatState';

export type MemoryStorage = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

/** The localStorage key for the API at `apiBase` (the resolved `apiUrl`). */
export function memoryKey(apiBase: string): string {
  return `serverless-openclaw.conversation:${apiBase}`;
}

export function rememberedConversation(storage: MemoryStorage | null, key: string): string | null {
  try {
    return storage?.getItem(key) || null;
  } catch {
    return null;
  }
}

export function rememberConversation(storage: MemoryStorage | null, key: string, id: string): void {
  try {
    storage?.setItem(key, id);
  } catch {
    // Storage can be full or disabled; the page then starts from the most recent conversation.
  }
}

export interface Current {
  id: string;
  /** Not on the server yet (created by its first message). */
  isNew: boolean;
}

/** The conversation to show: the remembered one if it still exists, else the most recent, else a new one. */
export function chooseConversation(
  remembered: string | null,
  list: ConversationSummary[],
  newId: () => string = newClientMessageId,
): Current {
  if (remembered !== null && list.some((c) => c.id === remembered)) return { id: remembered, isNew: false };
  const recent = list[0];
  return recent !== undefined ? { id: recent.id, isNew: false } : { id: newId(), isNew: true };
}

/** After deleting `deleted`: the next conversation in the list, else the previous one, else a new one. */
export function afterDelete(deleted: string, list: ConversationSummary[], newId: () => string = newClientMessageId): Current {
  const index = list.findIndex((c) => c.id === deleted);
  const rest = list.filter((c) => c.id !== deleted);
  const next = rest[Math.min(Math.max(index, 0), rest.length - 1)];
  return next !== undefined ? { id: next.id, isNew: false } : { id: newId(), isNew: true };
}

/** A title the server accepts for a rename (1 to 200 characters after trimming), or null. */
export function validTitle(title: string): string | null {
  const trimmed = title.trim();
  return trimmed.length > 0 && [...trimmed].length <= 200 ? trimmed : null;
}
