// The page's one WebSocket to the server (docs/protocol.md), without React: it opens the socket with a fresh
// token, reconnects with exponential backoff when it drops, keeps it alive with pings, and resends every
// message the server has not acknowledged yet, with its original clientMessageId, after a reconnect. The
// server answers a repeated clientMessageId with the same ack and never runs the turn twice, so resending is
// always safe. Frames go to the listener as parsed protocol frames; nothing here knows about conversations.
//
// A hidden page with nothing to send rests: it sends no pings, so the server closes the idle socket (API
// Gateway after 10 minutes), and it does not reconnect until the page is shown again. A tab left in the
// background costs nothing (docs/cost.md); when it is shown, it reconnects at once (which also wakes the
// agent while the user reads) and the views reload what they missed.

import type { AuthSession } from './auth/session';
import { parseServerFrame, type ClientFrame, type PingFrame, type SendMessageFrame, type ServerFrame } from './protocol';

/** Reconnect delays grow from the first to the cap, doubling, with ±25 % jitter. */
export const RECONNECT_FIRST_MS = 500;
export const RECONNECT_MAX_MS = 15_000;
/**
 * A ping keeps an idle connection of a shown page open: API Gateway closes a WebSocket after 10 minutes
 * without a frame, and answers `ping` itself (no Lambda; docs/cost.md: one tab shown all month ≈ $0.009).
 * Every 9.5 minutes: under that timeout with a margin for a late timer (a shown page's timers are not
 * throttled; a hidden one sends none, see above). A socket silent for two pings and more is taken as dead.
 */
export const PING_EVERY_MS = 9.5 * 60_000;
export const SILENT_LIMIT_MS = 2 * PING_EVERY_MS + 60_000;
/** API Gateway's idle timeout for WebSocket connections. */
export const SERVER_IDLE_TIMEOUT_MS = 10 * 60_000;
/**
 * The server trusts a socket only as long as the token it was opened with (on AWS: pushes stop and
 * frames are refused after that, and the watchdog closes it). So a socket is replaced with one opened
 * with a renewed token this long before its token expires (the session renews 5 minutes before).
 */
export const ROTATE_BEFORE_EXPIRY_MS = 60_000;

/** `resting`: closed on purpose while the page is hidden with nothing to send (see above). */
export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'resting';

/** Whether the page is hidden, and a way to hear when that changes. */
export interface PageVisibility {
  hidden(): boolean;
  /** Calls `listener` on every change until the returned function is called. */
  onChange(listener: () => void): () => void;
}

/** The document's visibility; where there is no document (tests), a page always shown. */
const documentVisibility: PageVisibility = {
  hidden: () => typeof document !== 'undefined' && document.visibilityState === 'hidden',
  onChange: (listener) => {
    if (typeof document === 'undefined') return () => {};
    document.addEventListener('visibilitychange', listener);
    return () => document.removeEventListener('visibilitychange', listener);
  },
};

/** The part of the browser's WebSocket this module uses, so tests can hand in a fake. */
export interface SocketLike {
  readonly readyState: number;
  onopen: ((event: Event) => void) | null;
  onmessage: ((event: MessageEvent) => void) | null;
  onclose: ((event: CloseEvent) => void) | null;
  onerror: ((event: Event) => void) | null;
  send(data: string): void;
  close(): void;
}

/** WebSocket.OPEN, spelled out so the module also loads where there is no WebSocket global (tests). */
const OPEN = 1;

export interface ConnectionOptions {
  /** The socket URL for a token (runtimeConfig.socketUrl). */
  socketUrl: (token: string) => string;
  /** Read at every (re)connect, so a session that renewed itself meanwhile is used. */
  session: () => Pick<AuthSession, 'freshToken' | 'expiresAt' | 'refused'>;
  onFrame: (frame: ServerFrame) => void;
  onState: (state: ConnectionState) => void;
  openSocket?: (url: string) => SocketLike;
  /** In [0, 1); the jitter of the backoff. */
  random?: () => number;
  /** The page's visibility (the document's by default). */
  visibility?: PageVisibility;
}

/** The wait before reconnect attempt `attempt` (0 for the first after a drop); `random` in [0, 1). */
export function reconnectDelay(attempt: number, random: number): number {
  const base = Math.min(RECONNECT_MAX_MS, RECONNECT_FIRST_MS * 2 ** attempt);
  return base * (0.75 + random * 0.5);
}

export class ChatConnection {
  private readonly options: ConnectionOptions;
  private readonly openSocket: (url: string) => SocketLike;
  private readonly random: () => number;
  private readonly visibility: PageVisibility;
  private socket: SocketLike | null = null;
  /** Closed on purpose while the page is hidden; reconnects when it is shown. */
  private resting = false;
  private unwatchVisibility: (() => void) | undefined;
  /** Whether a socket has been open before: a later drop is "reconnecting", not "connecting". */
  private opened = false;
  private stopped = true;
  private attempt = 0;
  private lastFrameAt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private keepAlive: ReturnType<typeof setInterval> | undefined;
  /** Replaces the socket before its token expires. */
  private rotateTimer: ReturnType<typeof setTimeout> | undefined;
  /** Counts connect() calls, so a token that arrives after a newer connect (or a stop) is dropped. */
  private generation = 0;
  /** Sends without an ack yet, by clientMessageId, in the order they were sent. */
  private readonly unacknowledged = new Map<string, SendMessageFrame>();

  constructor(options: ConnectionOptions) {
    this.options = options;
    this.openSocket = options.openSocket ?? ((url) => new WebSocket(url));
    this.random = options.random ?? Math.random;
    this.visibility = options.visibility ?? documentVisibility;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.keepAlive = setInterval(() => this.checkAlive(), PING_EVERY_MS);
    this.unwatchVisibility = this.visibility.onChange(() => this.visibilityChanged());
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.resting = false;
    this.generation += 1;
    this.unwatchVisibility?.();
    clearInterval(this.keepAlive);
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (this.socket !== null) this.drop(this.socket);
  }

  get isOpen(): boolean {
    return this.socket !== null && this.socket.readyState === OPEN;
  }

  /**
   * Sends a frame on the open socket; false (and nothing sent) when there is none. A sendMessage is kept
   * until its ack (or a refusal naming its clientMessageId) and sent again after every reconnect; an edit or
   * regenerate is not (the page reloads the history after a reconnect and offers them again).
   */
  send(frame: Exclude<ClientFrame, PingFrame>): boolean {
    const socket = this.socket;
    if (socket === null || socket.readyState !== OPEN) return false;
    if (frame.action === 'sendMessage') this.unacknowledged.set(frame.clientMessageId, frame);
    socket.send(JSON.stringify(frame));
    return true;
  }

  /** Skips the rest of the backoff (the browser says it is back online). */
  reconnectNow(): void {
    if (this.stopped || this.retryTimer === undefined) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    void this.connect();
  }

  private async connect(): Promise<void> {
    this.retryTimer = undefined;
    const generation = ++this.generation;
    const session = this.options.session();
    let token: string;
    try {
      // An expired token would be refused by the upgrade; the session renews it first when it can.
      token = await session.freshToken();
    } catch {
      if (generation === this.generation) session.refused();
      return;
    }
    if (generation !== this.generation || this.stopped) return;
    const expiresAt = session.expiresAt();
    const socket = this.openSocket(this.options.socketUrl(token));
    this.socket = socket;
    socket.onopen = () => {
      this.opened = true;
      this.attempt = 0;
      this.lastFrameAt = Date.now();
      this.options.onState('open');
      for (const frame of this.unacknowledged.values()) socket.send(JSON.stringify(frame));
      if (expiresAt !== null) {
        const due = Math.max(0, expiresAt - ROTATE_BEFORE_EXPIRY_MS - Date.now());
        // Replaced at once rather than after a backoff: nothing is wrong with the server.
        this.rotateTimer = setTimeout(() => this.drop(socket, true), due);
      }
    };
    socket.onmessage = (event: MessageEvent) => {
      this.lastFrameAt = Date.now();
      if (typeof event.data !== 'string') return;
      const frame = parseServerFrame(event.data);
      if (frame === null) {
        console.warn('ignored a frame that does not follow the protocol', event.data);
        return;
      }
      if (frame.type === 'error' && frame.code === 'unauthorized') {
        // The server stopped trusting this socket (on AWS: its connection record expired). It closes it;
        // the reconnect brings a fresh token and resends what this socket did not get to acknowledge.
        this.drop(socket);
        return;
      }
      // An ack, a command's notice, or an error naming the send (a refusal, or its turn failing later)
      // settles it: a command must not run again after a reconnect.
      if ((frame.type === 'ack' || frame.type === 'notice' || frame.type === 'error') && frame.clientMessageId !== undefined) {
        this.unacknowledged.delete(frame.clientMessageId);
      }
      this.options.onFrame(frame);
    };
    socket.onclose = () => this.drop(socket);
  }

  /** Closes the current socket and its rotation timer. */
  private forget(socket: SocketLike): void {
    detach(socket);
    this.socket = null;
    clearTimeout(this.rotateTimer);
    this.rotateTimer = undefined;
  }

  /** Gives up on `socket`; reconnects after the backoff, or at once when `immediately`. */
  private drop(socket: SocketLike, immediately = false): void {
    if (this.socket !== socket) {
      detach(socket);
      return;
    }
    this.forget(socket);
    if (this.stopped) return;
    if (this.mayRest()) {
      this.resting = true;
      this.options.onState('resting');
      return;
    }
    this.options.onState(this.opened ? 'reconnecting' : 'connecting');
    if (immediately) {
      void this.connect();
      return;
    }
    this.retryTimer = setTimeout(() => void this.connect(), reconnectDelay(this.attempt, this.random()));
    this.attempt += 1;
  }

  /** A hidden page with no send waiting for its ack needs no socket. */
  private mayRest(): boolean {
    return this.visibility.hidden() && this.unacknowledged.size === 0;
  }

  private visibilityChanged(): void {
    if (this.stopped || this.visibility.hidden()) return;
    if (this.resting) {
      this.resting = false;
      void this.connect();
      return;
    }
    // Shown again with a socket the server has surely closed meanwhile (its close may not have
    // reached a hidden page): replace it now rather than at the next ping.
    const socket = this.socket;
    if (socket !== null && socket.readyState === OPEN && Date.now() - this.lastFrameAt > SERVER_IDLE_TIMEOUT_MS) {
      this.drop(socket);
    }
  }

  private checkAlive(): void {
    const socket = this.socket;
    if (socket === null || socket.readyState !== OPEN) return;
    // Resting: the server closes the idle socket, and nothing reconnects until the page is shown.
    if (this.mayRest()) return;
    if (Date.now() - this.lastFrameAt > SILENT_LIMIT_MS) {
      this.drop(socket);
    } else {
      const ping: PingFrame = { action: 'ping' };
      socket.send(JSON.stringify(ping));
    }
  }
}

// Handlers are detached before closing so a socket given up on can never report again.
function detach(socket: SocketLike): void {
  socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
  socket.close();
}
