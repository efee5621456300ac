// The live event stream: one WebSocket per tab to `/api/v1/events/stream`, reconnecting with
// jittered exponential backoff. Screens subscribe with an MQTT filter; when the connection comes
// back (or the server says we lagged) `onResync` listeners refetch, because events were missed.
import type { components } from '../api/schema';
import { topicMatches } from './topic';

export type LiveEvent = components['schemas']['EventResponse'];
export type StreamStatus = 'connecting' | 'open' | 'offline';

type Frame =
  | { type: 'hello'; heartbeat_secs?: number }
  | { type: 'heartbeat' }
  | { type: 'event'; event: LiveEvent }
  | { type: 'lagged'; skipped: number };

export interface SocketLike {
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  close(): void;
}

export interface StreamOptions {
  url?: string;
  /** Injected in tests; the browser's WebSocket otherwise. */
  connect?: (url: string) => SocketLike;
  /** Injected in tests; `Math.random` otherwise. */
  random?: () => number;
  /** Injected in tests; `Date.now` otherwise. */
  now?: () => number;
  minDelayMs?: number;
  maxDelayMs?: number;
}

/** Delay before reconnect attempt `attempt` (0-based): doubling, capped, with ±50% jitter. */
export function backoffDelay(attempt: number, min: number, max: number, random: () => number): number {
  const base = Math.min(max, min * 2 ** Math.min(attempt, 16));
  return Math.round(base * (0.5 + random()));
}

export class LiveStream {
  private socket: SocketLike | null = null;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private watchdog: ReturnType<typeof setTimeout> | null = null;
  private heartbeatMs = 15_000;
  private stopped = true;
  private everOpened = false;
  private _status: StreamStatus = 'offline';
  private _downSince: number | null = null;
  private readonly subscribers = new Set<{ filter: string; fn: (e: LiveEvent) => void }>();
  private readonly statusListeners = new Set<(s: StreamStatus) => void>();
  private readonly resyncListeners = new Set<() => void>();
  private readonly opts: Required<StreamOptions>;

  constructor(options: StreamOptions = {}) {
    this.opts = {
      url: options.url ?? defaultUrl(),
      connect: options.connect ?? ((url) => new WebSocket(url) as unknown as SocketLike),
      random: options.random ?? Math.random,
      now: options.now ?? Date.now,
      minDelayMs: options.minDelayMs ?? 1_000,
      maxDelayMs: options.maxDelayMs ?? 30_000,
    };
  }

  get status(): StreamStatus {
    return this._status;
  }

  /**
   * When a connection that was open was lost (ms since the epoch), until one opens again; `null`
   * while connected, before the first connection and after `stop()`. Whatever a screen shows
   * from the server is stale from then on: it has stopped hearing about changes.
   */
  get disconnectedSince(): number | null {
    return this._downSince;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.open();
  }

  stop(): void {
    this.stopped = true;
    this._downSince = null;
    this.clearTimers();
    const s = this.socket;
    this.socket = null;
    s?.close();
    this.setStatus('offline');
  }

  /** Drops the connection (if any) and connects again now, without waiting for the backoff. */
  reconnect(): void {
    if (this.stopped) return;
    this.clearTimers();
    const s = this.socket;
    this.socket = null;
    s?.close();
    this.attempt = 0;
    this.open();
  }

  /** Calls `fn` for every live event whose topic matches `filter`. Returns the unsubscribe. */
  subscribe(filter: string, fn: (e: LiveEvent) => void): () => void {
    const entry = { filter, fn };
    this.subscribers.add(entry);
    return () => this.subscribers.delete(entry);
  }

  onStatus(fn: (s: StreamStatus) => void): () => void {
    this.statusListeners.add(fn);
    return () => this.statusListeners.delete(fn);
  }

  /** Called after a reconnect or a lag: events may have been missed, refetch what you show. */
  onResync(fn: () => void): () => void {
    this.resyncListeners.add(fn);
    return () => this.resyncListeners.delete(fn);
  }

  private open(): void {
    this.setStatus('connecting');
    let socket: SocketLike;
    try {
      socket = this.opts.connect(this.opts.url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      if (this.socket !== socket) return;
      this.attempt = 0;
      this.setStatus('open');
      if (this.everOpened) this.resync();
      this.everOpened = true;
      this.armWatchdog();
    };
    socket.onmessage = (ev) => {
      if (this.socket !== socket) return;
      this.armWatchdog();
      this.handle(ev.data);
    };
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.scheduleReconnect();
    };
    socket.onerror = () => {
      // A close event follows; reconnecting is handled there.
    };
  }

  private handle(raw: unknown): void {
    if (typeof raw !== 'string') return;
    let frame: Frame;
    try {
      frame = JSON.parse(raw) as Frame;
    } catch {
      return;
    }
    switch (frame.type) {
      case 'hello':
        if (frame.heartbeat_secs) this.heartbeatMs = frame.heartbeat_secs * 1000;
        this.armWatchdog();
        break;
      case 'event':
        for (const s of [...this.subscribers]) {
          if (topicMatches(s.filter, frame.event.topic)) s.fn(frame.event);
        }
        break;
      case 'lagged':
        this.resync();
        break;
      case 'heartbeat':
        break;
    }
  }

  private resync(): void {
    for (const fn of [...this.resyncListeners]) fn();
  }

  /** A connection silent for two heartbeats is dead (a proxy or laptop sleep ate it). */
  private armWatchdog(): void {
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => {
      const s = this.socket;
      this.socket = null;
      s?.close();
      this.scheduleReconnect();
    }, this.heartbeatMs * 2 + 1_000);
  }

  private scheduleReconnect(): void {
    this.clearTimers();
    if (this.stopped) return;
    this.setStatus('offline');
    const delay = backoffDelay(this.attempt++, this.opts.minDelayMs, this.opts.maxDelayMs, this.opts.random);
    this.timer = setTimeout(() => this.open(), delay);
  }

  private clearTimers(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.watchdog) clearTimeout(this.watchdog);
    this.timer = null;
    this.watchdog = null;
  }

  private setStatus(s: StreamStatus): void {
    if (s === this._status) return;
    if (s === 'open') this._downSince = null;
    else if (this._status === 'open' && !this.stopped) this._downSince = this.opts.now();
    this._status = s;
    for (const fn of [...this.statusListeners]) fn(s);
  }
}

function defaultUrl(): string {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${location.host}/api/v1/events/stream?topic=%23`;
}
