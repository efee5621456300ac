// The Events screen keeps its state in the URL so links work (`/events?tab=dlq`,
// `/events?tab=history&kind=project.created`): which tab, the live filter, the history filters
// and page, and the event whose detail is open.
import { filterError } from '../../live/topic';

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

export interface HistoryFilters {
  topic: string;
  kind: string;
  trace_id: string;
  /** RFC 3339 (UTC) in the URL and the query; `datetime-local` values in the form. */
  since: string;
  until: string;
}

export const HISTORY_KEYS = ['topic', 'kind', 'trace_id', 'since', 'until'] as const;

export function parseHistory(sp: URLSearchParams): HistoryFilters {
  return {
    topic: sp.get('topic') ?? '',
    kind: sp.get('kind') ?? '',
    trace_id: sp.get('trace_id') ?? '',
    since: sp.get('since') ?? '',
    until: sp.get('until') ?? '',
  };
}

export function parseCursor(sp: URLSearchParams): number | undefined {
  const c = sp.get('cursor');
  if (!c || !/^\d+$/.test(c)) return undefined;
  return Number(c);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Field → message for what the server would refuse; empty when the filters are fine. */
export function historyErrors(f: HistoryFilters): Partial<Record<keyof HistoryFilters, string>> {
  const errors: Partial<Record<keyof HistoryFilters, string>> = {};
  if (f.topic) {
    const e = filterError(f.topic);
    if (e) errors.topic = e;
  }
  if (f.trace_id && !UUID.test(f.trace_id.trim())) errors.trace_id = 'A trace id is a UUID.';
  if (f.since && Number.isNaN(Date.parse(f.since))) errors.since = 'Not a valid time.';
  if (f.until && Number.isNaN(Date.parse(f.until))) errors.until = 'Not a valid time.';
  if (!errors.since && !errors.until && f.since && f.until && Date.parse(f.since) >= Date.parse(f.until)) {
    errors.until = '"Until" must be after "since".';
  }
  return errors;
}

/**
 * New search params with the history filters applied: empty filters removed, the page reset,
 * the other keys (tab, live filter) kept.
 */
export function withHistory(sp: URLSearchParams, f: HistoryFilters): URLSearchParams {
  const next = new URLSearchParams(sp);
  for (const k of HISTORY_KEYS) {
    const v = f[k].trim();
    if (v) next.set(k, v);
    else next.delete(k);
  }
  next.delete('cursor');
  return next;
}

/** The `GET /events` query for these (valid) filters. */
export function historyQuery(f: HistoryFilters, cursor: number | undefined, limit: number) {
  const q: {
    topic?: string;
    kind?: string;
    trace_id?: string;
    since?: string;
    until?: string;
    limit: number;
    cursor?: number;
  } = { limit };
  for (const k of HISTORY_KEYS) {
    const v = f[k].trim();
    if (v) q[k] = v;
  }
  if (cursor !== undefined) q.cursor = cursor;
  return q;
}

/** A `datetime-local` input value (local time, no zone) as RFC 3339 UTC; '' stays ''. */
export function localToIso(local: string): string {
  if (!local) return '';
  const t = new Date(local);
  return Number.isNaN(t.getTime()) ? local : t.toISOString();
}

/** RFC 3339 as a `datetime-local` value (local time, minutes); '' for '' or nonsense. */
export function isoToLocal(iso: string): string {
  if (!iso) return '';
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return '';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${t.getFullYear()}-${p(t.getMonth() + 1)}-${p(t.getDate())}T${p(t.getHours())}:${p(t.getMinutes())}`;
}

/** Sets or removes one key, keeping the rest. */
export function withParam(sp: URLSearchParams, key: string, value: string | null): URLSearchParams {
  const next = new URLSearchParams(sp);
  if (value === null || value === '') next.delete(key);
  else next.set(key, value);
  return next;
}
