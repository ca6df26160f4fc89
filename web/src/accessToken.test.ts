import { describe, expect, it } from 'vitest';
import { resolveAccessToken, type TokenStorage } from './accessToken';

function memoryStorage(initial: Record<string, string> = {}): TokenStorage & { items: Map<string, string> } {
  const items = new Map(Object.entries(initial));
  return {
    items,
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => void items.set(key, value),
    removeItem: (key) => void items.delete(key),
  };
}

describe('resolveAccessToken', () => {
  it('takes the token from the URL, stores it and gives the URL without it', () => {
    const storage = memoryStorage();
    expect(resolveAccessToken('http://127.0.0.1:8080/?token=abc123&x=1#end', storage)).toEqual({
      token: 'abc123',
      urlWithoutToken: '/?x=1#end',
    });
    expect([...storage.items.values()]).toEqual(['abc123']);
  });

  it('falls back to the stored token after the URL lost it (a reload)', () => {
    const storage = memoryStorage();
    resolveAccessToken('http://127.0.0.1:8080/?token=abc123', storage);
    expect(resolveAccessToken('http://127.0.0.1:8080/', storage)).toEqual({ token: 'abc123', urlWithoutToken: null });
  });

  it('lets a new URL token replace the stored one', () => {
    const storage = memoryStorage();
    resolveAccessToken('http://127.0.0.1:8080/?token=old', storage);
    expect(resolveAccessToken('http://127.0.0.1:8080/?token=new', storage).token).toBe('new');
    expect(resolveAccessToken('http://127.0.0.1:8080/', storage).token).toBe('new');
  });

  it('has no token when neither the URL nor the storage has one', () => {
    expect(resolveAccessToken('http://127.0.0.1:8080/', memoryStorage()).token).toBeNull();
    expect(resolveAccessToken('http://127.0.0.1:8080/?token=', null)).toEqual({ token: null, urlWithoutToken: '/' });
  });
});
