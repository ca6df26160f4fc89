import { describe, expect, it } from 'vitest';
import {
  afterDelete,
  chooseConversation,
  memoryKey,
  rememberConversation,
  rememberedConversation,
  validTitle,
  type MemoryStorage,
} from './conversations';
import type { ConversationSummary } from './protocol';

function memoryStorage(): MemoryStorage & { items: Map<string, string> } {
  const items = new Map<string, string>();
  return {
    items,
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => void items.set(key, value),
    removeItem: (key) => void items.delete(key),
  };
}

const conversation = (id: string): ConversationSummary => ({ id, title: id, updatedAt: '2026-11-21T13:35:22.123Z', messageCount: 2 });
const list = [conversation('newest'), conversation('middle'), conversation('oldest')];
const newId = () => 'fresh';

describe('conversation memory', () => {
  it('remembers the current conversation per API', () => {
    const storage = memoryStorage();
    const local = memoryKey('http://127.0.0.1:8080/');
    const aws = memoryKey('https://api.example.com/');
    rememberConversation(storage, local, 'middle');
    expect(rememberedConversation(storage, local)).toBe('middle');
    expect(rememberedConversation(storage, aws)).toBeNull();
  });

  it('survives storage that is disabled or throws', () => {
    const throwing: MemoryStorage = {
      getItem: () => {
        throw new Error('SecurityError');
      },
      setItem: () => {
        throw new Error('QuotaExceededError');
      },
      removeItem: () => {},
    };
    expect(() => rememberConversation(throwing, 'k', 'x')).not.toThrow();
    expect(rememberedConversation(throwing, 'k')).toBeNull();
    expect(rememberedConversation(null, 'k')).toBeNull();
  });

  it('comes back to the remembered conversation when it still exists', () => {
    expect(chooseConversation('middle', list, newId)).toEqual({ id: 'middle', isNew: false });
  });

  it('falls back to the most recent one when the remembered one is gone or unknown', () => {
    expect(chooseConversation('deleted-elsewhere', list, newId)).toEqual({ id: 'newest', isNew: false });
    expect(chooseConversation(null, list, newId)).toEqual({ id: 'newest', isNew: false });
  });

  it('starts a new conversation when there is none', () => {
    expect(chooseConversation('deleted-elsewhere', [], newId)).toEqual({ id: 'fresh', isNew: true });
    expect(chooseConversation(null, []).id).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe('afterDelete', () => {
  it('moves to the next conversation, or the previous one at the end, or a new one', () => {
    expect(afterDelete('newest', list, newId)).toEqual({ id: 'middle', isNew: false });
    expect(afterDelete('oldest', list, newId)).toEqual({ id: 'middle', isNew: false });
    expect(afterDelete('only', [conversation('only')], newId)).toEqual({ id: 'fresh', isNew: true });
  });
});

describe('validTitle', () => {
  it('trims and takes 1 to 200 characters', () => {
    expect(validTitle('  Trip plans ')).toBe('Trip plans');
    expect(validTitle('   ')).toBeNull();
    expect(validTitle('é'.repeat(200))).toBe('é'.repeat(200));
    expect(validTitle('a'.repeat(201))).toBeNull();
  });
});
