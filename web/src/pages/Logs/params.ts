// The log viewer keeps its state in the URL so a filtered view can be linked
// (`/logs?level=ERROR&search=timeout&page=2&log=42`): filters, page and the open record. The
// level may name several (`level=ERROR,WARN`: warnings and errors, one click away).
import { filterQuery, isUuid, noFilters, readFilters, timeRangeErrors, writeFilters, type Filters } from '../../app/ui/filters';

export const LEVELS = ['ERROR', 'WARN', 'INFO', 'DEBUG'] as const;
/** The one-click view of what needs attention: `level=ERROR,WARN`. */
export const WARNINGS_AND_ERRORS = 'ERROR,WARN';
/** The level choices: each level, and the warnings and errors together. */
export const LEVEL_CHOICES = [
  { value: WARNINGS_AND_ERRORS, label: 'Warnings and errors' },
  ...LEVELS.map((l) => ({ value: l, label: l })),
];

/** A `level` value as the API takes it: levels upper-cased, comma-separated, in LEVELS order. */
export function normaliseLevel(level: string): string {
  const parts = level
    .split(',')
    .map((l) => l.trim().toUpperCase())
    .filter(Boolean)
    .map((l) => (l === 'WARNING' ? 'WARN' : l));
  if (parts.includes('ALL')) return '';
  const known = LEVELS.filter((l) => parts.includes(l));
  const unknown = [...new Set(parts.filter((l) => !(LEVELS as readonly string[]).includes(l)))];
  return [...known, ...unknown].join(',');
}
export const PAGE_SIZE = 50;
/** The API refuses offsets beyond this (narrow the filter instead). */
export const MAX_OFFSET = 1_000_000;

export const FILTER_KEYS = ['level', 'service', 'category', 'search', 'since', 'until'] as const;

/** Level, service, category, free text and the time range `since`/`until`. */
export type LogFilters = Filters<(typeof FILTER_KEYS)[number]>;
export const NO_FILTERS: LogFilters = noFilters(FILTER_KEYS);

export function parseFilters(sp: URLSearchParams): LogFilters {
  const f = readFilters(sp, FILTER_KEYS);
  // `ALL` means no filter, as in the API; any case is accepted for the level, and several.
  f.level = normaliseLevel(f.level);
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
  const wrong = f.level ? f.level.split(',').filter((l) => !(LEVELS as readonly string[]).includes(l)) : [];
  if (wrong.length) errors.level = `Not a level: ${wrong.join(', ')}.`;
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
