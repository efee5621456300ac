// Screens keep their filters in the URL so a filtered view can be linked. Each screen names its
// own fields (`keys`); reading them, writing them back, turning them into an API query and
// editing them in a form with `datetime-local` inputs is the same everywhere, and lives here.
import { useEffect, useState } from 'react';

/** Filters as strings by field name; '' is "no filter". */
export type Filters<K extends string> = Record<K, string>;

/** Every field empty. */
export function noFilters<K extends string>(keys: readonly K[]): Filters<K> {
  return Object.fromEntries(keys.map((k) => [k, ''])) as Filters<K>;
}

/** The fields `keys` from the URL, '' for an absent one. */
export function readFilters<K extends string>(sp: URLSearchParams, keys: readonly K[]): Filters<K> {
  return Object.fromEntries(keys.map((k) => [k, sp.get(k) ?? ''])) as Filters<K>;
}

/**
 * New search params with these filters: values trimmed, empty ones removed, the keys in `reset`
 * (the page, an open detail: they mean nothing under other filters) dropped, every other key kept.
 */
export function writeFilters<K extends string>(
  sp: URLSearchParams,
  keys: readonly K[],
  f: Filters<K>,
  reset: readonly string[] = [],
): URLSearchParams {
  const next = new URLSearchParams(sp);
  for (const k of keys) {
    const v = f[k].trim();
    if (v) next.set(k, v);
    else next.delete(k);
  }
  for (const k of reset) next.delete(k);
  return next;
}

/** The non-empty filters, trimmed: the filter part of an API query. */
export function filterQuery<K extends string>(keys: readonly K[], f: Filters<K>): Partial<Filters<K>> {
  const q: Partial<Filters<K>> = {};
  for (const k of keys) {
    const v = f[k].trim();
    if (v) q[k] = v;
  }
  return q;
}

/** Sets or removes one key, keeping the rest. */
export function withParam(sp: URLSearchParams, key: string, value: string | null): URLSearchParams {
  const next = new URLSearchParams(sp);
  if (value === null || value === '') next.delete(key);
  else next.set(key, value);
  return next;
}

/** 1-based page from `page=`; 1 when absent or nonsense. */
export function parsePage(sp: URLSearchParams): number {
  const p = sp.get('page');
  if (!p || !/^\d{1,7}$/.test(p)) return 1;
  return Math.max(1, Number(p));
}

/** Sets `page=`, leaving it out for page 1 (the default). */
export function withPage(sp: URLSearchParams, page: number): URLSearchParams {
  return withParam(sp, 'page', page > 1 ? String(page) : null);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Event trace ids (and user ids) are UUIDs; surrounding blanks are forgiven. */
export function isUuid(s: string): boolean {
  return UUID.test(s.trim());
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

/** The time range every filterable list has: RFC 3339 (UTC) in the URL and the query. */
export interface TimeRange {
  since: string;
  until: string;
}

/** Field → message for a time range the server would refuse. `allowEqual`: since = until is fine. */
export function timeRangeErrors({ since, until }: TimeRange, { allowEqual }: { allowEqual: boolean }): Partial<TimeRange> {
  const errors: Partial<TimeRange> = {};
  if (since && Number.isNaN(Date.parse(since))) errors.since = 'Not a valid time.';
  if (until && Number.isNaN(Date.parse(until))) errors.until = 'Not a valid time.';
  if (!errors.since && !errors.until && since && until) {
    const [s, u] = [Date.parse(since), Date.parse(until)];
    if (allowEqual ? s > u : s >= u) errors.until = allowEqual ? '"Until" must not be before "since".' : '"Until" must be after "since".';
  }
  return errors;
}

/**
 * A filter form's draft: the URL's filters with the time range as `datetime-local` values, put
 * back whenever the URL's filters change (back/forward, a link). `set(k)` is an input's onChange;
 * `asIso` is the draft with its time range back in RFC 3339, ready to apply.
 */
export function useFilterDraft<F extends TimeRange>(filters: F) {
  const toDraft = (f: F): F => ({ ...f, since: isoToLocal(f.since), until: isoToLocal(f.until) });
  const [draft, setDraft] = useState(() => toDraft(filters));
  const key = JSON.stringify(filters);
  useEffect(() => setDraft(toDraft(filters)), [key]); // eslint-disable-line react-hooks/exhaustive-deps
  const set = (k: keyof F) => (e: { target: { value: string } }) => setDraft((d) => ({ ...d, [k]: e.target.value }));
  const asIso: F = { ...draft, since: localToIso(draft.since), until: localToIso(draft.until) };
  return { draft, setDraft, set, asIso };
}
