// The log viewer keeps its state in the URL so a filtered view can be linked
// (`/logs?level=ERROR&search=timeout&page=2&log=42`): filters, page and the open record.

export const LEVELS = ['ERROR', 'WARN', 'INFO', 'DEBUG'] as const;
export const PAGE_SIZE = 50;
/** The API refuses offsets beyond this (narrow the filter instead). */
export const MAX_OFFSET = 1_000_000;

export interface LogFilters {
  level: string;
  service: string;
  category: string;
  search: string;
  /** RFC 3339 (UTC) in the URL and the query; `datetime-local` values in the form. */
  since: string;
  until: string;
}

export const FILTER_KEYS = ['level', 'service', 'category', 'search', 'since', 'until'] as const;
export const NO_FILTERS: LogFilters = { level: '', service: '', category: '', search: '', since: '', until: '' };

export function parseFilters(sp: URLSearchParams): LogFilters {
  const f = { ...NO_FILTERS };
  for (const k of FILTER_KEYS) f[k] = sp.get(k) ?? '';
  // `ALL` means no filter, as in the API; any case is accepted for the level.
  if (f.level.toUpperCase() === 'ALL') f.level = '';
  else f.level = f.level.toUpperCase();
  if (f.level === 'WARNING') f.level = 'WARN';
  return f;
}

/** 1-based page from `page=`; 1 when absent or nonsense. */
export function parsePage(sp: URLSearchParams): number {
  const p = sp.get('page');
  if (!p || !/^\d{1,7}$/.test(p)) return 1;
  return Math.max(1, Number(p));
}

/** The record whose detail is open (`log=`), if any. */
export function parseOpen(sp: URLSearchParams): number | undefined {
  const v = sp.get('log');
  return v && /^\d{1,15}$/.test(v) ? Number(v) : undefined;
}

/** Field → message for what the server would refuse; empty when the filters are fine. */
export function filterErrors(f: LogFilters): Partial<Record<keyof LogFilters, string>> {
  const errors: Partial<Record<keyof LogFilters, string>> = {};
  if (f.level && !(LEVELS as readonly string[]).includes(f.level)) errors.level = `Not a level: ${f.level}.`;
  if (f.since && Number.isNaN(Date.parse(f.since))) errors.since = 'Not a valid time.';
  if (f.until && Number.isNaN(Date.parse(f.until))) errors.until = 'Not a valid time.';
  if (!errors.since && !errors.until && f.since && f.until && Date.parse(f.since) > Date.parse(f.until)) {
    errors.until = '"Until" must not be before "since".';
  }
  return errors;
}

/** New search params with these filters: empty ones removed, page reset, the open record closed. */
export function withFilters(sp: URLSearchParams, f: LogFilters): URLSearchParams {
  const next = new URLSearchParams(sp);
  for (const k of FILTER_KEYS) {
    const v = f[k].trim();
    if (v) next.set(k, v);
    else next.delete(k);
  }
  next.delete('page');
  next.delete('log');
  return next;
}

/** Sets or removes one key, keeping the rest. */
export function withParam(sp: URLSearchParams, key: string, value: string | null): URLSearchParams {
  const next = new URLSearchParams(sp);
  if (value === null || value === '') next.delete(key);
  else next.set(key, value);
  return next;
}

export interface LogQuery {
  level?: string;
  service?: string;
  category?: string;
  search?: string;
  since?: string;
  until?: string;
  limit: number;
  offset: number;
}

/** The `GET /logs` query for these (valid) filters and 1-based page. */
export function logsQuery(f: LogFilters, page: number, pageSize = PAGE_SIZE): LogQuery {
  const q: LogQuery = { limit: pageSize, offset: Math.min((page - 1) * pageSize, MAX_OFFSET) };
  for (const k of FILTER_KEYS) {
    const v = f[k].trim();
    if (v) q[k] = v;
  }
  return q;
}

/** "Showing 51–100 of 1234" figures for a page of `count` rows. */
export function pageRange(offset: number, count: number, total: number): { from: number; to: number; pages: number } {
  return {
    from: count === 0 ? 0 : offset + 1,
    to: offset + count,
    pages: Math.max(1, Math.ceil(total / PAGE_SIZE)),
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Link to the events that share a log record's trace id (the Events page's history tab filters on
 * `trace_id=`); null when there is none or it is not an event trace id (events use UUIDs).
 */
export function traceLink(traceId: string | null | undefined): string | null {
  if (!traceId || !UUID.test(traceId.trim())) return null;
  return `/events?tab=history&trace_id=${encodeURIComponent(traceId.trim().toLowerCase())}`;
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

/** Merges newly polled rows into what the tail shows: ids not seen before are "new". */
export function newIds(previous: readonly { id: number }[] | undefined, current: readonly { id: number }[]): Set<number> {
  if (!previous) return new Set();
  const seen = new Set(previous.map((r) => r.id));
  return new Set(current.filter((r) => !seen.has(r.id)).map((r) => r.id));
}
