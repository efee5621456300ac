// The one live stream of the tab, shared by every screen: `useLiveStream()` returns the
// `LiveStream` and its status; `useLiveEvents(filter, fn)` subscribes for the component's life;
// `useResync(fn)` runs after a reconnect or a lag (events were missed: refetch); `useStaleSince()`
// says since when what the screen shows is no longer kept current (the stream is down), and
// `<StaleMark>` says so beside a value.
import { createContext, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { LiveStream, type LiveEvent, type StreamStatus } from '../live/stream';
import { isAuditTopic } from '../live/topic';

interface Live {
  stream: LiveStream;
  status: StreamStatus;
  /** When the open connection was lost (ms), until it is back; `null` while connected. */
  staleSince: number | null;
}

const LiveContext = createContext<Live | null>(null);

function readLive(stream: LiveStream) {
  return { status: stream.status, staleSince: stream.disconnectedSince };
}

export function LiveProvider({ enabled, children }: { enabled: boolean; children: ReactNode }) {
  const [stream] = useState(() => new LiveStream());
  const [state, setState] = useState(() => readLive(stream));
  useEffect(() => {
    setState(readLive(stream));
    return stream.onStatus(() => setState(readLive(stream)));
  }, [stream]);
  useEffect(() => {
    if (!enabled) return;
    stream.start();
    return () => stream.stop();
  }, [stream, enabled]);
  const value = useMemo(() => ({ stream, ...state }), [stream, state]);
  return <LiveContext.Provider value={value}>{children}</LiveContext.Provider>;
}

export function useLiveStream(): Live {
  const l = useContext(LiveContext);
  if (!l) throw new Error('useLiveStream() outside <LiveProvider>');
  return l;
}

/** Since when (ms) shown server state is stale because the live connection is down; else `null`. */
export function useStaleSince(): number | null {
  return useLiveStream().staleSince;
}

/** "12:03:15" for a moment today, with the date for older ones. */
export function clockTime(ms: number, now = Date.now()): string {
  const d = new Date(ms);
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  return new Date(now).toDateString() === d.toDateString() ? time : `${d.toLocaleDateString()} ${time}`;
}

/** "stale since 12:03:15" beside a value that is no longer kept current; nothing while live. */
export function StaleMark({ since }: { since: number | null }) {
  if (since === null) return null;
  return (
    <span className="stale-mark" data-testid="stale-mark" title="The connection to the server is lost: this is the last known state.">
      stale since <time dateTime={new Date(since).toISOString()}>{clockTime(since)}</time>
    </span>
  );
}

/** Calls `fn` for each live event matching the MQTT `filter` while mounted. */
export function useLiveEvents(filter: string, fn: (e: LiveEvent) => void): void {
  const { stream } = useLiveStream();
  const ref = useRef(fn);
  ref.current = fn;
  useEffect(() => stream.subscribe(filter, (e) => ref.current(e)), [stream, filter]);
}

/** Calls `fn` after a reconnect or a lag while mounted. */
export function useResync(fn: () => void): void {
  const { stream } = useLiveStream();
  const ref = useRef(fn);
  ref.current = fn;
  useEffect(() => stream.onResync(() => ref.current()), [stream]);
}

/**
 * Keeps react-query caches true to the server without reloads: project changes invalidate
 * `['projects']` (lists, counts, details), any change but the audit trail's invalidates
 * `['dashboard']`, and after a reconnect or a lag every active query refetches (events were
 * missed).
 */
export function LiveCacheSync() {
  const qc = useQueryClient();
  useLiveEvents('tracker/events/projects/#', () => void qc.invalidateQueries({ queryKey: ['projects'] }));
  useLiveEvents('tracker/events/#', (e) => {
    // A sign-in changes nothing the dashboard shows.
    if (!isAuditTopic(e.topic)) void qc.invalidateQueries({ queryKey: ['dashboard'] });
  });
  useResync(() => void qc.invalidateQueries());
  return null;
}
