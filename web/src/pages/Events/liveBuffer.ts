// The Live tab's list: newest first, bounded, and pausable. While paused, new events are held
// (bounded too) and counted, so the reader's place does not move; resuming shows them on top.

export interface LiveState<T> {
  /** What the list shows, newest first, at most `limit`. */
  shown: T[];
  /** Held while paused, newest first, at most `limit`. */
  held: T[];
  /** Events received while paused (also those no longer held because the buffer was full). */
  received: number;
  paused: boolean;
}

export function emptyLive<T>(): LiveState<T> {
  return { shown: [], held: [], received: 0, paused: false };
}

export function pushLive<T>(s: LiveState<T>, item: T, limit: number): LiveState<T> {
  if (s.paused) {
    return { ...s, held: [item, ...s.held].slice(0, limit), received: s.received + 1 };
  }
  return { ...s, shown: [item, ...s.shown].slice(0, limit) };
}

export function pauseLive<T>(s: LiveState<T>): LiveState<T> {
  return s.paused ? s : { ...s, paused: true, held: [], received: 0 };
}

export function resumeLive<T>(s: LiveState<T>, limit: number): LiveState<T> {
  if (!s.paused) return s;
  return { shown: [...s.held, ...s.shown].slice(0, limit), held: [], received: 0, paused: false };
}

/** Empties the list (and the buffer); keeps the paused state. */
export function clearLive<T>(s: LiveState<T>): LiveState<T> {
  return { ...s, shown: [], held: [], received: 0 };
}

/** Events that arrived while paused but no longer fit in the buffer. */
export function droppedWhilePaused<T>(s: LiveState<T>): number {
  return Math.max(0, s.received - s.held.length);
}
