// The log viewer keeps its state in the URL so a filtered view can be linked
// (`/logs?level=ERROR&search=timeout&page=2&log=42`): filters, page and the open record.
import { filterQuery, isUuid, noFilters, readFilters, timeRangeErrors, writeFilters, type Filters } from '../../app/ui/filters';

export const LEVELS = ['ERROR', 'WARN', 'INFO', 'DEBUG'] as const;
export const PAGE_SIZE = 50;
/** The API refuses offsets beyond this (narrow the filter instead). */
export const MAX_OFFSET = 1_000_000;

export const FILTER_KEYS = ['level', 'service', 'category', 'search', 'since', 'until'] as const;

/** Level, service, category, free text and the time range `since`/`until`. */
export type LogFilters = Filters<(typeof FILTER_KEYS)[number]>;
export const NO_FILTERS: LogFilters = noFilters(FILTER_KEYS);

export function parseFilters(sp: URLSearchParams): LogFilters {
  const f = readFilters(sp, FILTER_KEYS);
  // `ALL` means no filter, as in the API; any case is accepted for the level.
  if (f.level.toUpperCase() === 'ALL') f.level = '';
  else f.level = f.level.toUpperCase();
  if (f.level === 'WARNING') f.level = 'WARN';
  return f;
}

/** The record whose detail is open (`log=`), if any. */
export function parseOpen(sp: URLSearchParams): number | undefined {
  const v = sp.get('log');
  return v && /^\d{1,15}$/.test(v) ? Number(v) : undefined;
}

/** Field → message for what the server would refuse; empty when the filters are fine. */
export function filterErrors(f: LogFilters): Partial<LogFilters> {
  const errors: Partial<LogFilters> = {};
  if (f.level && !(LEVELS as readonly string[]).includes(f.level)) errors.level = `Not a level: ${f.level}.`;
  return { ...errors, ...timeRangeErrors(f, { allowEqual: true }) };
}

/** New search params with these filters: empty ones removed, page reset, the open record closed. */
export function withFilters(sp: URLSearchParams, f: LogFilters): URLSearchParams {
  return writeFilters(sp, FILTER_KEYS, f, ['page', 'log']);
}

export type LogQuery = Partial<LogFilters> & { limit: number; offset: number };

/** The `GET /logs` query for these (valid) filters and 1-based page. */
export function logsQuery(f: LogFilters, page: number, pageSize = PAGE_SIZE): LogQuery {
  return { limit: pageSize, offset: Math.min((page - 1) * pageSize, MAX_OFFSET), ...filterQuery(FILTER_KEYS, f) };
}

/** "Showing 51–100 of 1234" figures for a page of `count` rows. */
export function pageRange(offset: number, count: number, total: number): { from: number; to: number; pages: number } {
  return {
    from: count === 0 ? 0 : offset + 1,
    to: offset + count,
    pages: Math.max(1, Math.ceil(total / PAGE_SIZE)),
  };
}

/**
 * Link to the events that share a log record's trace id (the Events page's history tab filters on
 * `trace_id=`); null when there is none or it is not an event trace id (events use UUIDs).
 */
export function traceLink(traceId: string | null | undefined): string | null {
  if (!traceId || !isUuid(traceId)) return null;
  return `/events?tab=history&trace_id=${encodeURIComponent(traceId.trim().toLowerCase())}`;
}

/** Merges newly polled rows into what the tail shows: ids not seen before are "new". */
export function newIds(previous: readonly { id: number }[] | undefined, current: readonly { id: number }[]): Set<number> {
  if (!previous) return new Set();
  const seen = new Set(previous.map((r) => r.id));
  return new Set(current.filter((r) => !seen.has(r.id)).map((r) => r.id));
}
