import { describe, expect, it } from 'vitest';
import {
  applyCheckEvent, asState, componentState, formatLatency, formatUptime, healthOf, hoursFromBars, hourTone,
  impactOf, keepSame, summarizeHours, type CheckSummary, type ProjectChecks,
} from './status';

const dep = (component_id: string, depends_on_id: string) => ({ component_id, depends_on_id });
const check = (id: string, status: string, extra: Partial<CheckSummary> = {}): CheckSummary => ({
  id, name: id, kind: 'http', status, drives_status: true, last_latency_ms: 12, ...extra,
});
const summary = (...cs: [string, CheckSummary[]][]): ProjectChecks => ({
  components: cs.map(([component_id, checks]) => ({ component_id, checks, status: componentState(checks), hours_24h: [], uptime_24h: null })),
});

describe('status words', () => {
  it('maps what the server says, and anything unknown to unknown', () => {
    expect(asState('up')).toBe('up');
    expect(asState('paused')).toBe('paused');
    expect(asState('exploded')).toBe('unknown');
    expect(asState(undefined)).toBe('unknown');
  });

  it("takes a component's state from its driving checks like the server", () => {
    expect(componentState([])).toBe('unknown');
    expect(componentState([check('a', 'up'), check('b', 'down')])).toBe('down');
    expect(componentState([check('a', 'up'), check('b', 'degraded')])).toBe('degraded');
    expect(componentState([check('a', 'up'), check('b', 'unknown')])).toBe('unknown');
    expect(componentState([check('a', 'paused'), check('b', 'paused')])).toBe('paused');
    expect(componentState([check('a', 'paused'), check('b', 'up')])).toBe('up');
    // A check that does not drive the state does not count.
    expect(componentState([check('a', 'up'), check('b', 'down', { drives_status: false })])).toBe('up');
    expect(componentState([check('b', 'down', { drives_status: false })])).toBe('unknown');
  });

  it('formats latency and uptime without rounding a failure away', () => {
    expect(formatLatency(0.42)).toBe('0.4 ms');
    expect(formatLatency(12.6)).toBe('13 ms');
    expect(formatLatency(1534)).toBe('1.5 s');
    expect(formatLatency(null)).toBeNull();
    expect(formatUptime(1)).toBe('100%');
    expect(formatUptime(0.99996)).toBe('99.99%');
    expect(formatUptime(0.5)).toBe('50.0%');
    expect(formatUptime(null)).toBe('—');
  });
});

describe('impact', () => {
  // web → api → db; api → cache; worker → db.
  const deps = [dep('web', 'api'), dep('api', 'db'), dep('api', 'cache'), dep('worker', 'db')];

  it('marks everything that needs a down component, transitively, and names the cause', () => {
    const states: Record<string, string> = { db: 'down', api: 'up', web: 'up', cache: 'up', worker: 'unknown' };
    const out = impactOf(deps, (id) => asState(states[id]));
    expect(out.get('api')).toEqual(['db']);
    expect(out.get('web')).toEqual(['db']);
    expect(out.get('worker')).toEqual(['db']);
    expect(out.has('cache')).toBe(false);
    expect(out.has('db')).toBe(false);
  });

  it('a down component is down, not impacted; the root cause behind it is still found', () => {
    const states: Record<string, string> = { db: 'down', api: 'down', web: 'up' };
    const out = impactOf(deps, (id) => asState(states[id]));
    expect(out.has('api')).toBe(false);
    expect(out.get('web')).toEqual(['api', 'db']);
  });

  it('follows the direction of dependencies only', () => {
    const states: Record<string, string> = { web: 'down' };
    const out = impactOf(deps, (id) => asState(states[id]));
    expect(out.size).toBe(0);
  });

  it('ends on a cycle', () => {
    const out = impactOf([dep('a', 'b'), dep('b', 'a'), dep('b', 'c')], (id) => (id === 'c' ? 'down' : 'up'));
    expect(out.get('a')).toEqual(['c']);
    expect(out.get('b')).toEqual(['c']);
  });

  it('gives each component its health: down, impacted, its own state, or no checks', () => {
    const s = summary(['db', [check('db1', 'down', { last_error: 'connection refused' })]], ['api', [check('api1', 'up')]]);
    const h = healthOf(['db', 'api', 'web', 'lonely'], [dep('api', 'db'), dep('web', 'api')], s, (id) => id.toUpperCase());
    expect(h.get('db')).toMatchObject({ health: 'down', own: 'down', error: 'connection refused', checks: 1 });
    expect(h.get('api')).toMatchObject({ health: 'impacted', own: 'up', causes: ['db'], causeNames: ['DB'], latencyMs: 12 });
    // No checks of its own, but what it needs is down.
    expect(h.get('web')).toMatchObject({ health: 'impacted', own: null, checks: 0 });
    expect(h.get('lonely')).toMatchObject({ health: 'none', own: null });
  });

  it('keeps the same object while nothing changed', () => {
    const s = summary(['db', [check('db1', 'up')]]);
    const a = healthOf(['db'], [], s).get('db')!;
    const b = healthOf(['db'], [], s).get('db')!;
    expect(keepSame(a, b)).toBe(a);
    const c = healthOf(['db'], [], summary(['db', [check('db1', 'down')]])).get('db')!;
    expect(keepSame(a, c)).toBe(c);
  });
});

describe('live check events', () => {
  it('patch the check and its component, and leave everything else alone', () => {
    const s = summary(['c1', [check('k1', 'up'), check('k2', 'up')]], ['c2', [check('k3', 'up')]]);
    const next = applyCheckEvent(s, {
      kind: 'check.down',
      payload: { check_id: 'k2', component_id: 'c1', project_id: 'p', status: 'down', latency_ms: null, error: 'refused', timestamp: 't1' },
    });
    expect(next.components[0]!.status).toBe('down');
    expect(next.components[0]!.checks[1]).toMatchObject({ status: 'down', last_error: 'refused', last_latency_ms: null, last_checked_at: 't1' });
    expect(next.components[0]!.checks[0]).toBe(s.components[0]!.checks[0]);
    expect(next.components[1]).toBe(s.components[1]);
    const back = applyCheckEvent(next, { kind: 'check.up', payload: { check_id: 'k2', component_id: 'c1', status: 'up', latency_ms: 3 } });
    expect(back.components[0]!.status).toBe('up');
    expect(back.components[0]!.checks[1]!.last_latency_ms).toBe(3);
  });

  it('ignore other kinds, unknown checks and paused checks', () => {
    const s = summary(['c1', [check('k1', 'paused')]]);
    expect(applyCheckEvent(s, { kind: 'check.created', payload: { check_id: 'k1', component_id: 'c1' } })).toBe(s);
    expect(applyCheckEvent(s, { kind: 'check.down', payload: { check_id: 'k9', component_id: 'c1', status: 'down' } })).toBe(s);
    expect(applyCheckEvent(s, { kind: 'check.down', payload: { check_id: 'k1', component_id: 'c1', status: 'down' } })).toBe(s);
  });
});

describe('uptime bars', () => {
  it('tones hours and says the bar in words', () => {
    expect([1, 0.5, 0, null].map(hourTone)).toEqual(['ok', 'warn', 'bad', 'none']);
    expect(summarizeHours([1, 1, 0.5, null])).toBe('2 hours up, 1 hour with failures, 1 hour without runs');
    expect(summarizeHours([])).toBe('no runs');
  });

  it('places hourly counts in the 24 hours up to now', () => {
    const now = Date.parse('2026-12-07T10:30:00Z');
    const hours = hoursFromBars(
      [
        { start: '2026-12-07T10:00:00Z', up: 3, degraded: 1, down: 0 },
        { start: '2026-12-07T09:00:00Z', up: 1, degraded: 0, down: 3 },
        { start: '2026-12-06T11:00:00Z', up: 0, degraded: 0, down: 2 },
        { start: '2026-12-06T10:00:00Z', up: 5, degraded: 0, down: 0 },
      ],
      now,
    );
    expect(hours).toHaveLength(24);
    expect(hours[23]).toBe(1);
    expect(hours[22]).toBe(0.25);
    expect(hours[0]).toBe(0);
    expect(hours.filter((h) => h === null)).toHaveLength(21);
  });
});
