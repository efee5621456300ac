import { describe, expect, it } from 'vitest';
import { latencySeries, latencyStats, outageLength, outages, windowFor } from './history';

const r = (min: number, status: string, extra: { latency_ms?: number; error?: string } = {}) => ({
  at: new Date(Date.UTC(2026, 11, 7, 8, min)).toISOString(),
  status,
  ...extra,
});

describe('history', () => {
  it('finds outages as down runs in a row, newest first, with the first error', () => {
    const results = [
      r(0, 'up', { latency_ms: 5 }), r(1, 'down', { error: 'refused' }), r(2, 'down', { error: 'timeout' }),
      r(3, 'up', { latency_ms: 7 }), r(4, 'degraded', { latency_ms: 9 }), r(5, 'down', { error: 'refused' }),
    ].reverse();
    const list = outages(results);
    expect(list).toHaveLength(2);
    expect(list[0]).toMatchObject({ start: r(5, 'down').at, end: null, runs: 1 });
    expect(list[1]).toMatchObject({ start: r(1, 'down').at, end: r(3, 'up').at, runs: 2, error: 'refused' });
    expect(outageLength(list[1]!)).toBe(120_000);
    expect(outageLength(list[0]!, Date.parse(r(8, 'up').at))).toBe(180_000);
    expect(outages([r(0, 'up'), r(1, 'degraded')])).toEqual([]);
  });

  it('draws the latency of the runs that answered, oldest first', () => {
    const s = latencySeries([r(2, 'up', { latency_ms: 30 }), r(1, 'down', { latency_ms: 999 }), r(0, 'up', { latency_ms: 10 })]);
    expect(s.points.map((p) => p.v)).toEqual([10, 30]);
    expect(latencyStats(s)).toEqual({ p50: 10, p95: 30, max: 30 });
    expect(latencyStats({ label: 'x', points: [] })).toBeNull();
  });
});

describe('the latency window', () => {
  it('is the shortest that covers the check', () => {
    expect(windowFor(10 * 60_000)).toBe(1);
    expect(windowFor(5 * 3_600_000)).toBe(6);
    expect(windowFor(3 * 86_400_000)).toBe(24);
  });
});
