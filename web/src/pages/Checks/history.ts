// A check's history as the page shows it: outages (runs in a row that were down, with when they
// started and ended and the first error) and the latency line, from the raw results the server
// keeps for a short window.
import type { Series } from '../Charts/series';

export interface Result {
  at: string;
  status: string;
  latency_ms?: number | null;
  error?: string | null;
}

export interface Outage {
  /** The first down run. */
  start: string;
  /** The first run that was not down again; null while still down. */
  end: string | null;
  runs: number;
  error: string | null;
}

/**
 * Outages in `results` (any order), newest first. A down run starts one; the next run that is
 * up or degraded ends it. (Retries are recorded as runs too: an outage here is a run of failed
 * attempts, which may be shorter than the time the check was reported down.)
 */
export function outages(results: readonly Result[]): Outage[] {
  const sorted = [...results].sort((a, b) => a.at.localeCompare(b.at));
  const out: Outage[] = [];
  let open: Outage | null = null;
  for (const r of sorted) {
    if (r.status === 'down') {
      if (!open) {
        open = { start: r.at, end: null, runs: 0, error: r.error ?? null };
        out.push(open);
      }
      open.runs++;
    } else if (open) {
      open.end = r.at;
      open = null;
    }
  }
  return out.reverse();
}

/** How long an outage lasted (until `now` while open), in ms. */
export function outageLength(o: Outage, now = Date.now()): number {
  return (o.end ? Date.parse(o.end) : now) - Date.parse(o.start);
}

/** The latency of the runs that answered, as a chart series (oldest first). */
export function latencySeries(results: readonly Result[], label = 'latency'): Series {
  const points = results
    .filter((r) => r.latency_ms != null && Number.isFinite(r.latency_ms) && r.status !== 'down')
    .map((r) => ({ t: Date.parse(r.at), v: r.latency_ms as number }))
    .sort((a, b) => a.t - b.t);
  return { label, points };
}

/** Middle and 95th-percentile latency of the series, or null without points. */
export function latencyStats(s: Series): { p50: number; p95: number; max: number } | null {
  if (s.points.length === 0) return null;
  const v = s.points.map((p) => p.v).sort((a, b) => a - b);
  const at = (q: number) => v[Math.min(v.length - 1, Math.max(0, Math.ceil(q * v.length) - 1))]!;
  return { p50: at(0.5), p95: at(0.95), max: v[v.length - 1]! };
}

/** The shortest of 1, 6 and 24 hours that covers a check's `age` (ms): the latency window shown first. */
export function windowFor(age: number): number {
  return [1, 6].find((h) => age <= h * 3_600_000) ?? 24;
}
