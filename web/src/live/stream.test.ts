import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { backoffDelay, LiveStream, type SocketLike } from './stream';

class FakeSocket implements SocketLike {
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: unknown) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  closed = false;
  close() {
    this.closed = true;
  }
  send(frame: object) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
}

const event = (topic: string) => ({
  id: 1, topic, kind: 'x', trace_id: 't', idempotency_key: 'k', source: 'mqtt',
  payload: {}, ts: '2026-01-01T00:00:00Z', created_at: '2026-01-01T00:00:00Z',
});

describe('LiveStream', () => {
  let sockets: FakeSocket[];
  let stream: LiveStream;

  beforeEach(() => {
    vi.useFakeTimers();
    sockets = [];
    stream = new LiveStream({
      url: 'ws://test',
      connect: () => {
        const s = new FakeSocket();
        sockets.push(s);
        return s;
      },
      random: () => 0.5,
    });
  });
  afterEach(() => {
    stream.stop();
    vi.useRealTimers();
  });

  it('delivers events to matching subscribers only', () => {
    const got: string[] = [];
    stream.subscribe('tracker/events/#', (e) => got.push(e.topic));
    stream.start();
    sockets[0]!.onopen?.({});
    sockets[0]!.send({ type: 'event', event: event('tracker/events/a') });
    sockets[0]!.send({ type: 'event', event: event('tracker/metrics/a') });
    expect(got).toEqual(['tracker/events/a']);
  });

  it('knows since when a lost connection is down, until one opens again', () => {
    const t0 = Date.now();
    stream.start();
    expect(stream.disconnectedSince).toBeNull(); // connecting for the first time is not stale
    sockets[0]!.onopen?.({});
    expect(stream.disconnectedSince).toBeNull();
    vi.advanceTimersByTime(5_000);
    sockets[0]!.onclose?.({});
    expect(stream.disconnectedSince).toBe(t0 + 5_000);
    vi.advanceTimersByTime(1_000); // a retry that fails keeps the first moment
    sockets[1]!.onclose?.({});
    expect(stream.disconnectedSince).toBe(t0 + 5_000);
    stream.reconnect(); // "Reconnect now" while still down
    expect(sockets).toHaveLength(3);
    expect(stream.disconnectedSince).toBe(t0 + 5_000);
    sockets[2]!.onopen?.({});
    expect(stream.disconnectedSince).toBeNull();
    sockets[2]!.onclose?.({});
    expect(stream.disconnectedSince).not.toBeNull();
    stream.stop(); // signed out: nothing is shown, nothing is stale
    expect(stream.disconnectedSince).toBeNull();
  });

  it('a silent connection counts as lost once the watchdog fires', () => {
    stream.start();
    sockets[0]!.onopen?.({});
    sockets[0]!.send({ type: 'hello', heartbeat_secs: 1 });
    vi.advanceTimersByTime(2_999);
    expect(stream.disconnectedSince).toBeNull();
    vi.advanceTimersByTime(1);
    expect(stream.status).toBe('offline');
    expect(stream.disconnectedSince).not.toBeNull();
  });

  it('reconnects with growing delays and resyncs after coming back', () => {
    const statuses: string[] = [];
    let resyncs = 0;
    stream.onStatus((s) => statuses.push(s));
    stream.onResync(() => resyncs++);
    stream.start();
    sockets[0]!.onopen?.({});
    expect(resyncs).toBe(0);

    sockets[0]!.onclose?.({});
    expect(stream.status).toBe('offline');
    vi.advanceTimersByTime(999);
    expect(sockets).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(sockets).toHaveLength(2);
    sockets[1]!.onclose?.({}); // still down: next delay doubles
    vi.advanceTimersByTime(1999);
    expect(sockets).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(sockets).toHaveLength(3);
    sockets[2]!.onopen?.({});
    expect(stream.status).toBe('open');
    expect(resyncs).toBe(1);
    expect(statuses).toEqual(['connecting', 'open', 'offline', 'connecting', 'offline', 'connecting', 'open']);
  });

  it('treats a silent connection as dead and a lag as a resync', () => {
    let resyncs = 0;
    stream.onResync(() => resyncs++);
    stream.start();
    sockets[0]!.onopen?.({});
    sockets[0]!.send({ type: 'hello', heartbeat_secs: 1 });
    sockets[0]!.send({ type: 'lagged', skipped: 3 });
    expect(resyncs).toBe(1);
    vi.advanceTimersByTime(3_001);
    expect(sockets[0]!.closed).toBe(true);
    expect(stream.status).toBe('offline');
  });

  it('caps the backoff', () => {
    expect(backoffDelay(0, 1000, 30000, () => 0.5)).toBe(1000);
    expect(backoffDelay(10, 1000, 30000, () => 0.5)).toBe(30000);
    expect(backoffDelay(10, 1000, 30000, () => 0)).toBe(15000);
  });
});
