// The Events screen keeps its state in the URL so links work (`/events?tab=dlq`,
// `/events?tab=history&kind=project.created`): which tab, the live filter, the history filters
// and page, and the event whose detail is open.
import { filterError } from '../../live/topic';
import { filterQuery, isUuid, readFilters, timeRangeErrors, writeFilters, type Filters } from '../../app/ui/filters';

export const TABS = ['live', 'history', 'dlq'] as const;
export type Tab = (typeof TABS)[number];

export function parseTab(sp: URLSearchParams): Tab {
  const t = sp.get('tab');
  return (TABS as readonly string[]).includes(t ?? '') ? (t as Tab) : 'live';
}

/** The live tab's MQTT filter (`filter=`), `#` (everything) when absent. */
export function parseLiveFilter(sp: URLSearchParams): string {
  return sp.get('filter') || '#';
}

export const HISTORY_KEYS = ['topic', 'kind', 'trace_id', 'since', 'until'] as const;

/** Topic (MQTT filter), kind, trace id and the time range `since`/`until`. */
export type HistoryFilters = Filters<(typeof HISTORY_KEYS)[number]>;

export function parseHistory(sp: URLSearchParams): HistoryFilters {
  return readFilters(sp, HISTORY_KEYS);
}

export function parseCursor(sp: URLSearchParams): number | undefined {
  const c = sp.get('cursor');
  if (!c || !/^\d+$/.test(c)) return undefined;
  return Number(c);
}

/** Field → message for what the server would refuse; empty when the filters are fine. */
export function historyErrors(f: HistoryFilters): Partial<HistoryFilters> {
  const errors: Partial<HistoryFilters> = {};
  if (f.topic) {
    const e = filterError(f.topic);
    if (e) errors.topic = e;
  }
  if (f.trace_id && !isUuid(f.trace_id)) errors.trace_id = 'A trace id is a UUID.';
  return { ...errors, ...timeRangeErrors(f, { allowEqual: false }) };
}

/**
 * New search params with the history filters applied: empty filters removed, the page reset,
 * the other keys (tab, live filter) kept.
 */
export function withHistory(sp: URLSearchParams, f: HistoryFilters): URLSearchParams {
  return writeFilters(sp, HISTORY_KEYS, f, ['cursor']);
}

/** The `GET /events` query for these (valid) filters. */
export function historyQuery(f: HistoryFilters, cursor: number | undefined, limit: number) {
  const q: Partial<HistoryFilters> & { limit: number; cursor?: number } = { limit, ...filterQuery(HISTORY_KEYS, f) };
  if (cursor !== undefined) q.cursor = cursor;
  return q;
}
