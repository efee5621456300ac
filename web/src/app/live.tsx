// The one live stream of the tab, shared by every screen: `useLiveStream()` returns the
// `LiveStream` and its status; `useLiveEvents(filter, fn)` subscribes for the component's life;
// `useResync(fn)` runs after a reconnect or a lag (events were missed: refetch).
import { createContext, useContext, useEffect, useRef, useState, type ReactNode } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { LiveStream, type LiveEvent, type StreamStatus } from '../live/stream';

interface Live {
  stream: LiveStream;
  status: StreamStatus;
}

const LiveContext = createContext<Live | null>(null);

export function LiveProvider({ enabled, children }: { enabled: boolean; children: ReactNode }) {
  const [stream] = useState(() => new LiveStream());
  const [status, setStatus] = useState<StreamStatus>(stream.status);
  useEffect(() => stream.onStatus(setStatus), [stream]);
  useEffect(() => {
    if (!enabled) return;
    stream.start();
    return () => stream.stop();
  }, [stream, enabled]);
  return <LiveContext.Provider value={{ stream, status }}>{children}</LiveContext.Provider>;
}

export function useLiveStream(): Live {
  const l = useContext(LiveContext);
  if (!l) throw new Error('useLiveStream() outside <LiveProvider>');
  return l;
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
 * `['projects']` (lists, counts, details), any domain change invalidates `['dashboard']`, and
 * after a reconnect or a lag every active query refetches (events were missed).
 */
export function LiveCacheSync() {
  const qc = useQueryClient();
  useLiveEvents('tracker/events/projects/#', () => void qc.invalidateQueries({ queryKey: ['projects'] }));
  useLiveEvents('tracker/events/#', () => void qc.invalidateQueries({ queryKey: ['dashboard'] }));
  useResync(() => void qc.invalidateQueries());
  return null;
}
