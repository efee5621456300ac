// What the service checks say about the lab, as pure functions the canvas, the dashboard and the
// component page share: a check's state as shown (a word and a tone, never a colour alone), a
// component's state from its checks (the server's rule), "impact" (a component whose dependency
// is down, transitively) and live check events folded into the project's summary.
import type { components } from '../api/schema';

export type ProjectChecks = components['schemas']['ProjectChecks'];
export type ComponentChecks = components['schemas']['ComponentChecks'];
export type CheckSummary = components['schemas']['CheckSummary'];

/** A check's (or a component's) state as the server says it. */
export type CheckState = 'up' | 'degraded' | 'down' | 'unknown' | 'paused';
/** What a component shows: its own state, `impacted` (a dependency is down) or `none` (no checks). */
export type Health = CheckState | 'impacted' | 'none';

export const CHECK_STATES: readonly CheckState[] = ['up', 'degraded', 'down', 'unknown', 'paused'];

export const HEALTH_LABEL: Record<Health, string> = {
  up: 'Up',
  degraded: 'Degraded',
  down: 'Down',
  unknown: 'Unknown',
  paused: 'Paused',
  impacted: 'Impacted',
  none: 'No checks',
};

/** A state the server sent; anything this UI does not know reads as `unknown`. */
export function asState(s: string | null | undefined): CheckState {
  return (CHECK_STATES as readonly string[]).includes(s ?? '') ? (s as CheckState) : 'unknown';
}

/** The badge tone of a state (`Badge` in app/ui), with `impact` for the impacted. */
export function healthTone(h: Health): 'ok' | 'warn' | 'bad' | 'info' | undefined {
  switch (h) {
    case 'up':
      return 'ok';
    case 'degraded':
    case 'impacted':
      return 'warn';
    case 'down':
      return 'bad';
    default:
      return undefined;
  }
}

const RANK: Record<CheckState, number> = { down: 4, degraded: 3, unknown: 2, up: 1, paused: 0 };

/**
 * A component's state from its checks, as the server computes it for `/projects/{id}/checks`:
 * the worst of the checks that drive it (down > degraded > unknown > up), `paused` when all of
 * them are paused, `unknown` when none drives it.
 */
export function componentState(checks: readonly Pick<CheckSummary, 'status' | 'drives_status'>[]): CheckState {
  const driving = checks.filter((c) => c.drives_status).map((c) => asState(c.status));
  if (driving.length === 0) return 'unknown';
  if (driving.every((s) => s === 'paused')) return 'paused';
  return driving.filter((s) => s !== 'paused').reduce<CheckState>((w, s) => (RANK[s] > RANK[w] ? s : w), 'up');
}

/** "0.4 ms", "12 ms", "1.3 s"; null without a latency. */
export function formatLatency(ms: number | null | undefined): string | null {
  if (ms == null || !Number.isFinite(ms)) return null;
  if (ms < 10) return `${Number(ms.toFixed(1))} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${Number((ms / 1000).toFixed(ms < 10_000 ? 1 : 0))} s`;
}

/** "99.95%", "100%", "—": an uptime ratio (0-1) as shown. */
export function formatUptime(ratio: number | null | undefined): string {
  if (ratio == null || !Number.isFinite(ratio)) return '—';
  const p = ratio * 100;
  if (p >= 100) return '100%';
  // Never round a failure away: 99.996 is 99.99%, not 100%.
  const digits = p >= 99 ? 2 : p >= 10 ? 1 : 0;
  const f = 10 ** digits;
  return `${(Math.floor(p * f) / f).toFixed(digits)}%`;
}

/**
 * Impact: for each component that is not down itself, the down components it depends on,
 * directly or through others (following "depends on"). A component that is down is down, not
 * impacted. Cycles (the server refuses them, but a stale cache could hold one) end the walk.
 */
export function impactOf(
  dependencies: readonly { component_id: string; depends_on_id: string }[],
  stateOf: (componentId: string) => Health | CheckState | undefined,
): Map<string, string[]> {
  const needs = new Map<string, string[]>();
  for (const d of dependencies) {
    const list = needs.get(d.component_id);
    if (list) list.push(d.depends_on_id);
    else needs.set(d.component_id, [d.depends_on_id]);
  }
  const out = new Map<string, string[]>();
  for (const start of needs.keys()) {
    if (stateOf(start) === 'down') continue;
    const causes: string[] = [];
    const seen = new Set<string>([start]);
    const stack = [...(needs.get(start) ?? [])];
    while (stack.length) {
      const id = stack.pop()!;
      if (seen.has(id)) continue;
      seen.add(id);
      if (stateOf(id) === 'down') causes.push(id);
      // Walk on past a down component too: what it needs may be down as well (the root cause).
      for (const next of needs.get(id) ?? []) stack.push(next);
    }
    if (causes.length) out.set(start, causes.sort());
  }
  return out;
}

/** One hour of the last day: the share of runs that were up (or degraded), null without runs. */
export type HourShare = number | null;

/** What a canvas node, the dashboard and the status lists show of one component. */
export interface ComponentHealth {
  health: Health;
  /** The state its own checks give it (null: no checks). */
  own: CheckState | null;
  /** Ids of the down components it depends on (when impacted), and their names. */
  causes: string[];
  causeNames: string[];
  checks: number;
  /** The slowest latest latency among its driving checks that answered. */
  latencyMs: number | null;
  /** Why a check is down or degraded (the first such). */
  error: string | null;
  /** The soonest certificate expiry among its checks. */
  certExpiresAt: string | null;
  /** Uptime of the last 24 h (0-1) and hour by hour, oldest first; null when not known. */
  uptime24h: number | null;
  hours: HourShare[] | null;
}

/** The health of each component of a graph, from the project's check summary. */
export function healthOf(
  componentIds: readonly string[],
  dependencies: readonly { component_id: string; depends_on_id: string }[],
  summary: ProjectChecks | undefined,
  nameOf: (componentId: string) => string = (id) => id,
): Map<string, ComponentHealth> {
  const byId = new Map<string, ComponentChecks>();
  for (const c of summary?.components ?? []) byId.set(c.component_id, c);
  const own = (id: string): CheckState | undefined => {
    const c = byId.get(id);
    return c ? asState(c.status) : undefined;
  };
  const impact = impactOf(dependencies, own);
  const out = new Map<string, ComponentHealth>();
  for (const id of componentIds) {
    const c = byId.get(id);
    const state = c ? asState(c.status) : null;
    const causes = impact.get(id) ?? [];
    const driving = c?.checks.filter((k) => k.drives_status) ?? [];
    const latencies = driving.map((k) => k.last_latency_ms).filter((v): v is number => v != null && Number.isFinite(v));
    const failing = c?.checks.find((k) => (k.status === 'down' || k.status === 'degraded') && k.last_error);
    const certs = (c?.checks ?? []).map((k) => k.cert_expires_at).filter((v): v is string => !!v).sort();
    out.set(id, {
      health: state === 'down' ? 'down' : causes.length ? 'impacted' : (state ?? 'none'),
      own: state,
      causes,
      causeNames: causes.map(nameOf),
      checks: c?.checks.length ?? 0,
      latencyMs: latencies.length ? Math.max(...latencies) : null,
      error: failing?.last_error ?? null,
      certExpiresAt: certs[0] ?? null,
      uptime24h: c?.uptime_24h ?? null,
      hours: c && c.hours_24h.length ? c.hours_24h : null,
    });
  }
  return out;
}

/** The same health object when nothing in it changed, so memoized nodes do not re-render. */
export function keepSame(prev: ComponentHealth | undefined, next: ComponentHealth): ComponentHealth {
  if (!prev) return next;
  const same =
    prev.health === next.health &&
    prev.own === next.own &&
    prev.checks === next.checks &&
    prev.latencyMs === next.latencyMs &&
    prev.error === next.error &&
    prev.certExpiresAt === next.certExpiresAt &&
    prev.uptime24h === next.uptime24h &&
    prev.causes.join() === next.causes.join() &&
    prev.causeNames.join('\n') === next.causeNames.join('\n') &&
    (prev.hours ?? []).join() === (next.hours ?? []).join();
  return same ? prev : next;
}

type Payload = Record<string, unknown>;
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/**
 * A `check.<state>` event (a check changed state) folded into a project's summary: the check's
 * state, latency, error and certificate, and its component's state. Other events, and events
 * of checks the summary does not hold, change nothing (the caller refetches for those).
 */
export function applyCheckEvent(summary: ProjectChecks, event: { kind: string; payload?: unknown }): ProjectChecks {
  if (!/^check\.(up|down|degraded|unknown)$/.test(event.kind)) return summary;
  const p = (event.payload ?? {}) as Payload;
  const checkId = str(p.check_id);
  const componentId = str(p.component_id);
  const status = str(p.status);
  if (!checkId || !componentId || !status) return summary;
  const i = summary.components.findIndex((c) => c.component_id === componentId);
  if (i < 0) return summary;
  const comp = summary.components[i]!;
  const j = comp.checks.findIndex((k) => k.id === checkId);
  if (j < 0) return summary;
  const old = comp.checks[j]!;
  // A paused check stays paused whatever arrives late.
  if (old.status === 'paused') return summary;
  const latency = p.latency_ms;
  const next: CheckSummary = {
    ...old,
    status,
    status_since: status !== old.status ? (str(p.timestamp) ?? old.status_since ?? null) : old.status_since,
    last_latency_ms: typeof latency === 'number' ? latency : null,
    last_error: str(p.error) ?? null,
    last_checked_at: str(p.timestamp) ?? old.last_checked_at ?? null,
    cert_expires_at: str(p.cert_expires_at) ?? old.cert_expires_at ?? null,
  };
  const checks = comp.checks.slice();
  checks[j] = next;
  const components = summary.components.slice();
  components[i] = { ...comp, checks, status: componentState(checks) };
  return { ...summary, components };
}

/** Days until `iso` from `now` (negative once past). */
export function daysUntil(iso: string, now = Date.now()): number {
  return Math.floor((Date.parse(iso) - now) / 86_400_000);
}

/** How one hour looks in an uptime bar. */
export function hourTone(h: HourShare): 'ok' | 'warn' | 'bad' | 'none' {
  if (h == null) return 'none';
  if (h >= 1) return 'ok';
  if (h <= 0) return 'bad';
  return 'warn';
}

/** "23 hours up, 1 with failures" — an uptime bar in words (`unit`: hour or day). */
export function summarizeHours(hours: readonly HourShare[], unit: 'hour' | 'day' = 'hour'): string {
  let up = 0;
  let failing = 0;
  let down = 0;
  let none = 0;
  for (const h of hours) {
    const t = hourTone(h);
    if (t === 'ok') up++;
    else if (t === 'warn') failing++;
    else if (t === 'bad') down++;
    else none++;
  }
  const n = (k: number, what: string) => `${k} ${k === 1 ? unit : `${unit}s`} ${what}`;
  const parts: string[] = [];
  if (up) parts.push(n(up, 'up'));
  if (failing) parts.push(n(failing, 'with failures'));
  if (down) parts.push(n(down, 'down'));
  if (none) parts.push(n(none, 'without runs'));
  return parts.join(', ') || 'no runs';
}

/** Counts of one hour or day, as `/checks/{id}/uptime` returns them. */
export interface CountBar {
  start: string;
  up: number;
  degraded: number;
  down: number;
}

/**
 * Shares for the `count` slots (hours or days: `slotMs`) up to the one holding `now`, oldest
 * first: the runs that were up or degraded over all runs; null for a slot without runs.
 */
export function sharesFromBars(bars: readonly CountBar[], slotMs: number, count: number, now = Date.now()): HourShare[] {
  const current = Math.floor(now / slotMs) * slotMs;
  const out: HourShare[] = new Array(count).fill(null);
  for (const b of bars) {
    const i = count - 1 - Math.round((current - Date.parse(b.start)) / slotMs);
    const total = b.up + b.degraded + b.down;
    if (i >= 0 && i < count && total > 0) out[i] = (b.up + b.degraded) / total;
  }
  return out;
}

/** The 24 hours up to now from hourly counts (oldest first). */
export function hoursFromBars(bars: readonly CountBar[], now = Date.now()): HourShare[] {
  return sharesFromBars(bars, 3_600_000, 24, now);
}

/** "3 days", "1 day", "today", "expired 2 days ago". */
export function certText(days: number): string {
  if (days < 0) return `expired ${-days === 1 ? '1 day' : `${-days} days`} ago`;
  if (days === 0) return 'expires today';
  return `expires in ${days === 1 ? '1 day' : `${days} days`}`;
}

/** "40 s", "3 min", "2 h 5 min", "3 days": how long something has lasted. */
export function durationText(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  return `${Math.floor(h / 24)} days`;
}
