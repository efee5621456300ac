// History tab: stored events (`GET /events`) filtered by topic (MQTT filter), kind, trace id and
// time range, newest first, paged by cursor. Filters and page are in the URL. The first page
// refreshes by itself when matching events arrive on the live stream.
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { keepPreviousData, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, data } from '../../api/client';
import { useLiveEvents, useResync } from '../../app/live';
import type { LiveEvent } from '../../live/stream';
import { topicMatches } from '../../live/topic';
import { Button, Empty, ErrorMessage, Loading } from '../../app/ui';
import { noFilters, useFilterDraft } from '../../app/ui/filters';
import { historyErrors, historyQuery, HISTORY_KEYS, type HistoryFilters } from './params';
import { EventRows } from './EventRows';
import { Field, Pager } from './shared';

export const HISTORY_PAGE = 50;

export function HistoryTab({
  filters, cursor, onApply, onCursor, onOpen,
}: {
  filters: HistoryFilters;
  cursor: number | undefined;
  onApply: (f: HistoryFilters) => void;
  onCursor: (c: number | undefined) => void;
  onOpen: (e: LiveEvent) => void;
}) {
  const qc = useQueryClient();
  const { draft, setDraft, set, asIso } = useFilterDraft(filters);
  const [submitted, setSubmitted] = useState(false);
  // Cursors of the pages before this one, to go back ("Previous" = newer).
  const [stack, setStack] = useState<(number | undefined)[]>([]);

  const key = JSON.stringify(filters);
  useEffect(() => setStack([]), [key]);

  const serverErrors = historyErrors(filters);
  const valid = Object.keys(serverErrors).length === 0;
  const query = historyQuery(filters, cursor, HISTORY_PAGE);
  const q = useQuery({
    queryKey: ['events', 'history', query],
    queryFn: () => data(api.GET('/api/v1/events', { params: { query } })),
    enabled: valid,
    placeholderData: keepPreviousData,
  });

  // New matching events: refresh the first page (at most once a second).
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => () => {
    if (timer.current) clearTimeout(timer.current);
  }, []);
  const refreshSoon = () => {
    if (cursor !== undefined || filters.until || timer.current) return;
    timer.current = setTimeout(() => {
      timer.current = null;
      void qc.invalidateQueries({ queryKey: ['events', 'history'] });
    }, 1000);
  };
  useLiveEvents(filters.topic && valid ? filters.topic : '#', (e) => {
    if (filters.kind && e.kind !== filters.kind) return;
    if (filters.trace_id && e.trace_id !== filters.trace_id.trim().toLowerCase()) return;
    if (filters.topic && !topicMatches(filters.topic, e.topic)) return;
    refreshSoon();
  });
  useResync(refreshSoon);

  const errors = submitted ? historyErrors(asIso) : {};
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setSubmitted(true);
    if (Object.keys(historyErrors(asIso)).length > 0) return;
    setSubmitted(false);
    onApply(asIso);
  };
  const reset = () => {
    const none = noFilters(HISTORY_KEYS);
    setDraft(none);
    setSubmitted(false);
    onApply(none);
  };

  const page = stack.length + 1;
  const next = q.data?.next_cursor ?? undefined;
  return (
    <>
      <form className="panel" onSubmit={submit} aria-label="History filters">
        <div className="form-grid">
          <Field label="Topic (MQTT filter)" error={errors.topic}>
            {(p) => <input {...p} className="mono" value={draft.topic} onChange={set('topic')} placeholder="tracker/events/#" spellCheck={false} />}
          </Field>
          <Field label="Kind" error={errors.kind}>
            {(p) => <input {...p} className="mono" value={draft.kind} onChange={set('kind')} placeholder="project.created" spellCheck={false} />}
          </Field>
          <Field label="Trace id" error={errors.trace_id}>
            {(p) => <input {...p} className="mono" value={draft.trace_id} onChange={set('trace_id')} spellCheck={false} />}
          </Field>
          <Field label="Received since" error={errors.since}>
            {(p) => <input {...p} type="datetime-local" value={draft.since} onChange={set('since')} />}
          </Field>
          <Field label="Received before" error={errors.until}>
            {(p) => <input {...p} type="datetime-local" value={draft.until} onChange={set('until')} />}
          </Field>
          <div className="form-actions">
            <Button type="submit" variant="primary">
              Apply filters
            </Button>
            <Button onClick={reset}>Reset</Button>
          </div>
        </div>
      </form>
      {!valid && <ErrorMessage error={new Error(`The filters in the link are not valid: ${Object.values(serverErrors).join(' ')}`)} />}
      {valid && q.isPending && <Loading label="Loading events…" />}
      {q.isError && <ErrorMessage error={q.error} onRetry={() => void q.refetch()} />}
      {q.data && (
        <>
          <p className="muted" role="status">
            {q.data.count === 0
              ? ''
              : `Page ${page}: ${q.data.count} event${q.data.count === 1 ? '' : 's'}, newest first${q.isFetching ? ' (refreshing…)' : ''}`}
          </p>
          {q.data.count === 0 ? (
            <Empty>{cursor === undefined ? 'No events match these filters.' : 'No older events.'}</Empty>
          ) : (
            <EventRows events={q.data.events} onOpen={onOpen} label="Stored events, newest first" />
          )}
          <Pager
            label="Event pages"
            status={`Page ${page}`}
            onFirst={cursor !== undefined ? () => { setStack([]); onCursor(undefined); } : undefined}
            onPrev={
              cursor !== undefined
                ? () => {
                    const prev = stack[stack.length - 1];
                    setStack((s) => s.slice(0, -1));
                    onCursor(prev);
                  }
                : undefined
            }
            onNext={
              next !== undefined
                ? () => {
                    setStack((s) => [...s, cursor]);
                    onCursor(next);
                  }
                : undefined
            }
          />
        </>
      )}
    </>
  );
}
