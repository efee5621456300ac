import { describe, expect, it } from 'vitest';
import { fillHours, layoutChart, niceMax } from './chart';

const H = 3_600_000;
const now = Date.parse('2026-11-29T05:40:00Z');

describe('error-rate chart scaling', () => {
  it('fills every hour of the timeframe, oldest first, ending with the current hour', () => {
    const pts = fillHours(
      [
        { hour: '2026-11-29T03:00:00Z', error_count: 1, total_count: 4, error_rate: 25 },
        { hour: '2026-11-29T05:00:00Z', error_count: 0, total_count: 10, error_rate: 0 },
        // Outside the window: ignored.
        { hour: '2026-11-28T01:00:00Z', error_count: 9, total_count: 9, error_rate: 100 },
      ],
      4,
      now,
    );
    expect(pts.map((p) => new Date(p.t).toISOString())).toEqual([
      '2026-11-29T02:00:00.000Z', '2026-11-29T03:00:00.000Z', '2026-11-29T04:00:00.000Z', '2026-11-29T05:00:00.000Z',
    ]);
    expect(pts.map((p) => p.rate)).toEqual([0, 25, 0, 0]);
    expect(pts[3]!.total).toBe(10);
  });

  it('clamps nonsense rates', () => {
    const [p] = fillHours([{ hour: '2026-11-29T05:00:00Z', error_count: 1, total_count: 1, error_rate: 250 }], 1, now);
    expect(p!.rate).toBe(100);
  });

  it('picks a nice axis maximum, never above 100 %', () => {
    expect(niceMax(0)).toBe(1);
    expect(niceMax(0.3)).toBe(0.5);
    expect(niceMax(1)).toBe(1);
    expect(niceMax(1.2)).toBe(2);
    expect(niceMax(2.2)).toBe(2.5);
    expect(niceMax(26)).toBe(50);
    expect(niceMax(51)).toBe(100);
    expect(niceMax(100)).toBe(100);
  });

  it('lays bars out inside the plot, heights proportional to the rate', () => {
    const pts = [0, 25, 50].map((rate, i) => ({ t: i * H, errors: rate ? 1 : 0, total: 2, rate }));
    const l = layoutChart(pts, 340, 130);
    expect(l.max).toBe(50);
    const bottom = l.plot.top + l.plot.height;
    expect(l.bars[0]!.h).toBe(0);
    expect(l.bars[2]!.h).toBeCloseTo(l.plot.height);
    expect(l.bars[1]!.h).toBeCloseTo(l.plot.height / 2);
    for (const b of l.bars) {
      expect(b.y + b.h).toBeCloseTo(bottom);
      expect(b.x).toBeGreaterThanOrEqual(l.plot.left);
      expect(b.x + b.w).toBeLessThanOrEqual(l.plot.left + l.plot.width + 1e-9);
    }
    expect(l.ticks.map((t) => t.value)).toEqual([0, 25, 50]);
    // The newest hour always gets a label.
    expect(l.labels.at(-1)!.t).toBe(2 * H);
  });

  it('labels at most about eight hours on a long range', () => {
    const pts = Array.from({ length: 168 }, (_, i) => ({ t: i * H, errors: 0, total: 0, rate: 0 }));
    const l = layoutChart(pts, 720, 170);
    expect(l.labels.length).toBeLessThanOrEqual(9);
    expect(l.labels.at(-1)!.t).toBe(167 * H);
  });
});
