import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  ChatConnection,
  PING_EVERY_MS,
  SERVER_IDLE_TIMEOUT_MS,
  RECONNECT_FIRST_MS,
  ROTATE_BEFORE_EXPIRY_MS,
  RECONNECT_MAX_MS,
  SILENT_LIMIT_MS,
  reconnectDelay,
  type ConnectionState,
  type PageVisibility,
  type SocketLike,
} from './connection';
import type { SendMessageFrame, ServerFrame } from './protocol';

/** A WebSocket that the test opens, closes and talks through by hand. */
class FakeSocket implements SocketLike {
  readyState = 0;
  onopen: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onclose: ((event: CloseEvent) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;
  readonly sent: unknown[] = [];
  closed = false;

  constructor(readonly url: string) {}

  send(data: string): void {
    if (this.readyState !== 1) throw new Error('send on a socket that is not open');
    this.sent.push(JSON.parse(data));
  }

  close(): void {
    this.closed = true;
    this.readyState = 3;
  }

  serverOpens(): void {
    this.readyState = 1;
    this.onopen?.(new Event('open'));
  }

  serverSends(frame: object): void {
    this.onmessage?.({ data: JSON.stringify(frame) } as MessageEvent);
  }

  serverCloses(): void {
    this.readyState = 3;
    this.onclose?.({} as CloseEvent);
  }
}

interface Harness {
  connection: ChatConnection;
  sockets: FakeSocket[];
  states: ConnectionState[];
  frames: ServerFrame[];
  refused: ReturnType<typeof vi.fn>;
  freshToken: ReturnType<typeof vi.fn>;
  /** The newest socket. */
  last(): FakeSocket;
}

/** A page whose visibility the test sets. */
class FakePage implements PageVisibility {
  private listeners = new Set<() => void>();
  constructor(private isHidden = false) {}
  hidden(): boolean {
    return this.isHidden;
  }
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  set(hidden: boolean): void {
    this.isHidden = hidden;
    for (const listener of this.listeners) listener();
  }
}

function harness(
  tokens: (() => Promise<string>)[] = [],
  visibility: PageVisibility = new FakePage(),
  expiresAt: () => number | null = () => null,
): Harness {
  const sockets: FakeSocket[] = [];
  const states: ConnectionState[] = [];
  const frames: ServerFrame[] = [];
  let calls = 0;
  const freshToken = vi.fn(() => (tokens[calls++] ?? (() => Promise.resolve('tok')))());
  const refused = vi.fn();
  const connection = new ChatConnection({
    socketUrl: (token) => `ws://server/ws?token=${token}`,
    session: () => ({ freshToken, expiresAt, refused }),
    onFrame: (frame) => frames.push(frame),
    onState: (state) => states.push(state),
    openSocket: (url) => {
      const socket = new FakeSocket(url);
      sockets.push(socket);
      return socket;
    },
    // No jitter: 0.5 puts the factor at exactly 1.
    random: () => 0.5,
    visibility,
  });
  return {
    connection,
    sockets,
    states,
    frames,
    refused,
    freshToken,
    last: () => {
      const socket = sockets[sockets.length - 1];
      if (socket === undefined) throw new Error('no socket opened yet');
      return socket;
    },
  };
}

const send = (clientMessageId: string, message = `text of ${clientMessageId}`): SendMessageFrame => ({
  action: 'sendMessage',
  conversationId: 'c1',
  message,
  clientMessageId,
});

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe('reconnectDelay', () => {
  it('doubles from the first delay up to the cap', () => {
    const delays = Array.from({ length: 8 }, (_, attempt) => reconnectDelay(attempt, 0.5));
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 15_000, 15_000, 15_000]);
    expect(RECONNECT_FIRST_MS).toBe(500);
    expect(RECONNECT_MAX_MS).toBe(15_000);
  });

  it('jitters by at most a quarter either way', () => {
    expect(reconnectDelay(2, 0)).toBe(1500);
    expect(reconnectDelay(2, 0.999_999)).toBeCloseTo(2500, 0);
    expect(reconnectDelay(40, 0)).toBe(11_250);
  });
});

describe('ChatConnection', () => {
  it('opens the socket with the session token and reports the states', async () => {
    const h = harness();
    h.connection.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(h.sockets.map((s) => s.url)).toEqual(['ws://server/ws?token=tok']);
    expect(h.connection.isOpen).toBe(false);
    h.last().serverOpens();
    expect(h.connection.isOpen).toBe(true);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    h.last().serverSends({ type: 'status', conversationId: 'c1', status: 'queued' });
    h.last().serverSends({ type: 'nonsense' });
    expect(h.frames).toEqual([{ type: 'status', conversationId: 'c1', status: 'queued' }]);
    expect(warn).toHaveBeenCalledTimes(1);
    warn.mockRestore();
    h.last().serverCloses();
    expect(h.states).toEqual(['open', 'reconnecting']);
    h.connection.stop();
  });

  it('waits longer after each failed attempt, up to the cap, and starts over once connected', async () => {
    const h = harness();
    h.connection.start();
    await vi.advanceTimersByTimeAsync(0);
    h.last().serverOpens();

    const waits: number[] = [];
    for (let i = 0; i < 7; i += 1) {
      const before = h.sockets.length;
      h.last().serverCloses();
      let waited = 0;
      while (h.sockets.length === before) {
        await vi.advanceTimersByTimeAsync(100);
        waited += 100;
        if (waited > 60_000) throw new Error('no reconnect within a minute');
      }
      waits.push(waited);
    }
    // 500 ms, then doubling, capped at 15 s (measured in steps of 100 ms).
    expect(waits).toEqual([500, 1000, 2000, 4000, 8000, 15_000, 15_000]);

    // A successful open resets the backoff.
    h.last().serverOpens();
    h.last().serverCloses();
    await vi.advanceTimersByTimeAsync(499);
    const count = h.sockets.length;
    await vi.advanceTimersByTimeAsync(1);
    expect(h.sockets.length).toBe(count + 1);
    h.connection.stop();
  });

  it('resends unacknowledged messages with their original ids after a reconnect, but not acknowledged ones', async () => {
    const h = harness();
    h.connection.start();
    await vi.advanceTimersByTimeAsync(0);
    const first = h.last();
    first.serverOpens();
    expect(h.connection.send(send('acked'))).toBe(true);
    expect(h.connection.send(send('pending-1'))).toBe(true);
    expect(h.connection.send(send('refused'))).toBe(true);
    expect(h.connection.send(send('pending-2'))).toBe(true);
    expect(h.connection.send({ action: 'cancel', conversationId: 'c1' })).toBe(true);
    first.serverSends({ type: 'ack', clientMessageId: 'acked', conversationId: 'c1', messageId: 'm1' });
    first.serverSends({ type: 'error', code: 'too_large', message: 'Too large.', clientMessageId: 'refused' });
    first.serverCloses();

    // Nothing can be sent while the socket is down.
    expect(h.connection.send(send('while-down'))).toBe(false);

    await vi.advanceTimersByTimeAsync(RECONNECT_FIRST_MS);
    const second = h.last();
    expect(second).not.toBe(first);
    expect(second.sent).toEqual([]);
    second.serverOpens();
    expect(second.sent).toEqual([send('pending-1'), send('pending-2')]);

    // Acked on the new socket: a further reconnect sends nothing again.
    second.serverSends({ type: 'ack', clientMessageId: 'pending-1', conversationId: 'c1', messageId: 'm2' });
    second.serverSends({ type: 'ack', clientMessageId: 'pending-2', conversationId: 'c1', messageId: 'm3' });
    second.serverCloses();
    await vi.advanceTimersByTimeAsync(RECONNECT_FIRST_MS);
    h.last().serverOpens();
    expect(h.last().sent).toEqual([]);
    h.connection.stop();
  });

  it('asks the session for a fresh token before every reconnect and uses it', async () => {
    const h = harness([() => Promise.resolve('first-token'), () => Promise.resolve('renewed-token')]);
    h.connection.start();
    await vi.advanceTimersByTimeAsync(0);
    h.last().serverOpens();
    h.last().serverCloses();
    expect(h.freshToken).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(RECONNECT_FIRST_MS);
    expect(h.freshToken).toHaveBeenCalledTimes(2);
    expect(h.sockets.map((s) => s.url)).toEqual(['ws://server/ws?token=first-token', 'ws://server/ws?token=renewed-token']);
    expect(h.refused).not.toHaveBeenCalled();
    h.connection.stop();
  });

  it('reconnects with a fresh token when the server says the socket is no longer authorised', async () => {
    const h = harness([() => Promise.resolve('old'), () => Promise.resolve('new')]);
    h.connection.start();
    await vi.advanceTimersByTimeAsync(0);
    const first = h.last();
    first.serverOpens();
    h.connection.send(send('in-flight'));
    first.serverSends({ type: 'error', code: 'unauthorized', message: 'connection expired', clientMessageId: 'in-flight' });
    // Not a chat error: nothing reaches the page, and the send is still owed.
    expect(h.frames).toEqual([]);
    expect(first.closed).toBe(true);
    await vi.advanceTimersByTimeAsync(RECONNECT_FIRST_MS);
    expect(h.last().url).toBe('ws://server/ws?token=new');
    h.last().serverOpens();
    expect(h.last().sent).toEqual([send('in-flight')]);
    h.connection.stop();
  });

  it('replaces the socket with one opened with a renewed token a minute before its token expires', async () => {
    // Shorter than the silence that would drop the socket anyway (the fake server answers no ping).
    const lifetime = 10 * 60_000;
    let expiry = Date.now() + lifetime;
    const h = harness([() => Promise.resolve('first'), () => Promise.resolve('renewed')], new FakePage(), () => expiry);
    h.connection.start();
    await vi.advanceTimersByTimeAsync(0);
    const first = h.last();
    first.serverOpens();
    h.connection.send(send('in-flight'));
    expiry = Date.now() + 2 * lifetime;
    await vi.advanceTimersByTimeAsync(lifetime - ROTATE_BEFORE_EXPIRY_MS - 1);
    expect(first.closed).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(first.closed).toBe(true);
    // At once, not after a backoff.
    await vi.advanceTimersByTimeAsync(0);
    expect(h.sockets.map((s) => s.url)).toEqual(['ws://server/ws?token=first', 'ws://server/ws?token=renewed']);
    h.last().serverOpens();
    expect(h.last().sent).toEqual([send('in-flight')]);
    expect(h.states).toEqual(['open', 'reconnecting', 'open']);
    h.connection.stop();
  });

  it('never replaces a socket whose token does not expire (local mode)', async () => {
    const h = harness();
    h.connection.start();
    await vi.advanceTimersByTimeAsync(0);
    h.last().serverOpens();
    await vi.advanceTimersByTimeAsync(15 * 60_000);
    expect(h.sockets).toHaveLength(1);
    h.connection.stop();
  });

  it('tells the session it was refused when the token cannot be renewed, and stops trying', async () => {
    const h = harness([() => Promise.resolve('tok'), () => Promise.reject(new Error('refresh token expired'))]);
    h.connection.start();
    await vi.advanceTimersByTimeAsync(0);
    h.last().serverOpens();
    h.last().serverCloses();
    await vi.advanceTimersByTimeAsync(RECONNECT_MAX_MS * 4);
    expect(h.refused).toHaveBeenCalledTimes(1);
    expect(h.sockets).toHaveLength(1);
    h.connection.stop();
  });

  it('opens no socket when stopped while the token is on its way', async () => {
    let release: (token: string) => void = () => {};
    const h = harness([() => new Promise<string>((resolve) => (release = resolve))]);
    h.connection.start();
    h.connection.stop();
    release('late');
    await vi.advanceTimersByTimeAsync(RECONNECT_MAX_MS);
    expect(h.sockets).toEqual([]);
  });

  it('pings an idle socket and drops one that stayed silent too long', async () => {
    const h = harness();
    h.connection.start();
    await vi.advanceTimersByTimeAsync(0);
    const socket = h.last();
    socket.serverOpens();
    await vi.advanceTimersByTimeAsync(PING_EVERY_MS);
    expect(socket.sent).toEqual([{ action: 'ping' }]);
    await vi.advanceTimersByTimeAsync(SILENT_LIMIT_MS);
    expect(socket.closed).toBe(true);
    expect(h.states).toEqual(['open', 'reconnecting']);
    h.connection.stop();
  });

  it("keeps an idle socket whose pings are answered open, pinging within API Gateway's idle timeout", async () => {
    expect(PING_EVERY_MS).toBeLessThan(SERVER_IDLE_TIMEOUT_MS);
    const h = harness();
    h.connection.start();
    await vi.advanceTimersByTimeAsync(0);
    const socket = h.last();
    socket.serverOpens();
    for (let ping = 1; ping <= 12; ping += 1) {
      await vi.advanceTimersByTimeAsync(PING_EVERY_MS);
      expect(socket.sent).toHaveLength(ping);
      socket.serverSends({ type: 'pong' });
    }
    expect(socket.closed).toBe(false);
    expect(h.states).toEqual(['open']);
    h.connection.stop();
  });

  it('skips the rest of the backoff when asked to reconnect now', async () => {
    const h = harness();
    h.connection.start();
    await vi.advanceTimersByTimeAsync(0);
    h.last().serverOpens();
    for (let i = 0; i < 4; i += 1) {
      h.last().serverCloses();
      await vi.advanceTimersByTimeAsync(RECONNECT_MAX_MS);
    }
    h.last().serverCloses();
    const count = h.sockets.length;
    h.connection.reconnectNow();
    await vi.advanceTimersByTimeAsync(0);
    expect(h.sockets.length).toBe(count + 1);
    h.connection.stop();
  });

  it('does not send a command again after a reconnect once its notice came', async () => {
    const h = harness();
    h.connection.start();
    await vi.advanceTimersByTimeAsync(0);
    h.last().serverOpens();
    h.connection.send(send('cmd', '/status'));
    h.last().serverSends({ type: 'notice', conversationId: 'c1', clientMessageId: 'cmd', text: 'Idle.' });
    h.last().serverCloses();
    await vi.advanceTimersByTimeAsync(RECONNECT_FIRST_MS);
    h.last().serverOpens();
    expect(h.last().sent).toEqual([]);
    h.connection.stop();
  });

  it('rests while the page is hidden with nothing to send: no pings, no reconnect, until it is shown', async () => {
    const page = new FakePage();
    const h = harness([], page);
    h.connection.start();
    await vi.advanceTimersByTimeAsync(0);
    const socket = h.last();
    socket.serverOpens();
    page.set(true);
    await vi.advanceTimersByTimeAsync(PING_EVERY_MS);
    expect(socket.sent).toEqual([]);
    // API Gateway closes the idle socket; nothing reconnects while the page is hidden.
    socket.serverCloses();
    await vi.advanceTimersByTimeAsync(24 * 60 * 60_000);
    expect(h.sockets).toHaveLength(1);
    expect(h.states).toEqual(['open', 'resting']);
    // Shown again: a fresh socket at once.
    page.set(false);
    await vi.advanceTimersByTimeAsync(0);
    expect(h.sockets).toHaveLength(2);
    h.last().serverOpens();
    expect(h.states).toEqual(['open', 'resting', 'open']);
    await vi.advanceTimersByTimeAsync(PING_EVERY_MS);
    expect(h.last().sent).toEqual([{ action: 'ping' }]);
    h.connection.stop();
  });

  it('keeps a hidden page connected while a send waits for its ack', async () => {
    const page = new FakePage();
    const h = harness([], page);
    h.connection.start();
    await vi.advanceTimersByTimeAsync(0);
    h.last().serverOpens();
    expect(h.connection.send(send('m1'))).toBe(true);
    page.set(true);
    await vi.advanceTimersByTimeAsync(PING_EVERY_MS);
    expect(h.last().sent).toEqual([send('m1'), { action: 'ping' }]);
    h.last().serverCloses();
    expect(h.states).toEqual(['open', 'reconnecting']);
    await vi.advanceTimersByTimeAsync(RECONNECT_FIRST_MS);
    expect(h.sockets).toHaveLength(2);
    h.last().serverOpens();
    expect(h.last().sent).toEqual([send('m1')]);
    // Acknowledged: now it may rest.
    h.last().serverSends({ type: 'ack', clientMessageId: 'm1', conversationId: 'c1', messageId: 'u1' });
    h.last().serverCloses();
    expect(h.states).toEqual(['open', 'reconnecting', 'open', 'resting']);
    h.connection.stop();
  });

  it('replaces a socket that went silent past the idle timeout while the page was hidden, once shown', async () => {
    const page = new FakePage();
    const h = harness([], page);
    h.connection.start();
    await vi.advanceTimersByTimeAsync(0);
    const socket = h.last();
    socket.serverOpens();
    page.set(true);
    // The close never reached the hidden page.
    await vi.advanceTimersByTimeAsync(SERVER_IDLE_TIMEOUT_MS + 1);
    page.set(false);
    expect(socket.closed).toBe(true);
    h.connection.stop();
  });
});
