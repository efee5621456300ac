// Live tab: events as they are committed, filtered by an MQTT topic filter (kept in the URL),
// pausable (new events are held and counted while paused), bounded to the newest LIMIT.
import { useCallback, useEffect, useReducer, useState, type FormEvent } from 'react';
import { useLiveEvents, useLiveStream, useResync } from '../../app/live';
import type { LiveEvent } from '../../live/stream';
import { filterError } from '../../live/topic';
import { Badge, Button, Empty } from '../../app/ui';
import { clearLive, droppedWhilePaused, emptyLive, pauseLive, pushLive, resumeLive, type LiveState } from './liveBuffer';
import { EventRows } from './EventRows';
import { Field } from './shared';

export const LIVE_LIMIT = 200;

type Action = { type: 'push'; event: LiveEvent } | { type: 'pause' } | { type: 'resume' } | { type: 'clear' };

function reduce(s: LiveState<LiveEvent>, a: Action): LiveState<LiveEvent> {
  switch (a.type) {
    case 'push':
      return pushLive(s, a.event, LIVE_LIMIT);
    case 'pause':
      return pauseLive(s);
    case 'resume':
      return resumeLive(s, LIVE_LIMIT);
    case 'clear':
      return clearLive(s);
  }
}

const STATUS_TEXT = { open: 'Connected', connecting: 'Connecting…', offline: 'Offline: reconnecting' } as const;

export function LiveTab({
  filter, onFilter, onOpen,
}: { filter: string; onFilter: (f: string) => void; onOpen: (e: LiveEvent) => void }) {
  const { status } = useLiveStream();
  const [state, dispatch] = useReducer(reduce, undefined, () => emptyLive<LiveEvent>());
  const [draft, setDraft] = useState(filter);
  const [error, setError] = useState<string | null>(null);
  const [missed, setMissed] = useState(false);

  useEffect(() => setDraft(filter), [filter]);

  useLiveEvents(
    filter,
    useCallback((event: LiveEvent) => dispatch({ type: 'push', event }), []),
  );
  useResync(() => setMissed(true));

  const apply = (e: FormEvent) => {
    e.preventDefault();
    const f = draft.trim();
    const err = filterError(f);
    setError(err);
    if (err) return;
    if (f !== filter) {
      dispatch({ type: 'clear' });
      onFilter(f);
    }
  };

  const dropped = droppedWhilePaused(state);
  return (
    <>
      <form className="live-controls" onSubmit={apply} aria-label="Live filter">
        <Field
          label="Topic filter"
          error={error}
          hint={
            <>
              MQTT wildcards: <code>+</code> one level, <code>#</code> the rest, e.g. <code>tracker/events/+/created</code>
            </>
          }
        >
          {(p) => (
            <input
              {...p}
              className="mono"
              value={draft}
              onChange={(e) => {
                setDraft(e.target.value);
                if (error) setError(filterError(e.target.value.trim()));
              }}
              spellCheck={false}
              autoComplete="off"
            />
          )}
        </Field>
        <Button type="submit" variant="primary">
          Apply filter
        </Button>
        {state.paused ? (
          <Button onClick={() => dispatch({ type: 'resume' })} variant="primary">
            ▶ Resume{state.received > 0 ? ` (${state.received} new)` : ''}
          </Button>
        ) : (
          <Button onClick={() => dispatch({ type: 'pause' })}>⏸ Pause</Button>
        )}
        <Button onClick={() => dispatch({ type: 'clear' })} disabled={state.shown.length === 0 && state.held.length === 0}>
          Clear
        </Button>
      </form>
      <div className="live-status" role="status" aria-live="polite">
        <span>
          Stream: <strong>{STATUS_TEXT[status]}</strong>
        </span>
        <span>
          Showing <code className="mono">{filter}</code> — newest {LIVE_LIMIT} kept
        </span>
        {state.paused && (
          <Badge tone="warn">
            Paused: {state.received} new event{state.received === 1 ? '' : 's'} waiting
            {dropped > 0 ? ` (${dropped} oldest not kept)` : ''}
          </Badge>
        )}
        {missed && (
          <span>
            The connection was interrupted: events sent meanwhile are in History.{' '}
            <Button variant="ghost" onClick={() => setMissed(false)}>
              Dismiss
            </Button>
          </span>
        )}
      </div>
      {state.shown.length === 0 ? (
        <Empty>
          {state.paused
            ? 'Paused. Resume to see new events.'
            : `Waiting for events matching ${filter}… (they appear here as they arrive)`}
        </Empty>
      ) : (
        <EventRows events={state.shown} onOpen={onOpen} label="Live events, newest first" />
      )}
    </>
  );
}
