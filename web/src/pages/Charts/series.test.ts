import { describe, expect, test } from 'vitest';
import { defaultLabel, layoutLines, niceMax, shortNumber, toSeries } from './series';

describe('toSeries', () => {
  const matrix = [
    { metric: { kind: 'idle' }, values: [[100, '0'], [130, '0']] },
    { metric: { kind: 'task.created' }, values: [[130, '0.5'], [100, '0.25'], [160, 'NaN']] },
    { metric: { kind: 'project.created' }, values: [[100, '2'], [130, '1']] },
  ];

  test('converts seconds and text values, sorts points, drops non-finite ones', () => {
    const s = toSeries(matrix, { label: (m) => m.kind ?? '' });
    const task = s.find((x) => x.label === 'task.created')!;
    expect(task.points).toEqual([
      { t: 100_000, v: 0.25 },
      { t: 130_000, v: 0.5 },
    ]);
  });

  test('orders by peak, drops flat series when asked, and cuts to max', () => {
    expect(toSeries(matrix, { label: (m) => m.kind ?? '' }).map((s) => s.label)).toEqual(['project.created', 'task.created', 'idle']);
    expect(toSeries(matrix, { label: (m) => m.kind ?? '', dropFlat: true }).map((s) => s.label)).toEqual(['project.created', 'task.created']);
    expect(toSeries(matrix, { label: (m) => m.kind ?? '', max: 1 }).map((s) => s.label)).toEqual(['project.created']);
  });

  test('skips series without usable points; empty matrix gives no series', () => {
    expect(toSeries([{ metric: {}, values: [[1, 'x']] }])).toEqual([]);
    expect(toSeries([])).toEqual([]);
  });

  test('default labels name the labels, else the metric', () => {
    expect(defaultLabel({ __name__: 'up', job: 'a', instance: 'b' })).toBe('instance=b, job=a');
    expect(defaultLabel({ __name__: 'up' })).toBe('up');
    expect(defaultLabel({})).toBe('value');
  });
});

describe('layout', () => {
  test('nice maxima', () => {
    expect(niceMax(0)).toBe(1);
    expect(niceMax(0.37)).toBe(0.5);
    expect(niceMax(7)).toBe(10);
    expect(niceMax(120)).toBe(200);
    expect(niceMax(2.1)).toBe(2.5);
  });

  test('places points in the plot over the window, clamps to the axis', () => {
    const l = layoutLines(
      [{ label: 'a', points: [{ t: 0, v: 0 }, { t: 500, v: 5 }, { t: 1000, v: 10 }, { t: 2000, v: 3 }] }],
      { start: 0, end: 1000, width: 156, height: 128 },
    );
    // plot: left 44, top 8, width 100, height 100; max 10.
    expect(l.max).toBe(10);
    expect(l.lines[0]?.points).toBe('44,108 94,58 144,8');
    expect(l.lines[0]?.last).toEqual({ t: 2000, v: 3 });
    expect(l.ticks.map((t) => t.y)).toEqual([108, 58, 8]);
    expect(l.labels[0]).toEqual({ x: 44, t: 0 });
    const fixed = layoutLines([{ label: 'p', points: [{ t: 0, v: 150 }] }], { start: 0, end: 1000, width: 156, height: 128, fixedMax: 100 });
    expect(fixed.max).toBe(100);
    expect(fixed.lines[0]?.points).toBe('44,8');
  });

  test('short numbers', () => {
    expect(shortNumber(0)).toBe('0');
    expect(shortNumber(0.123)).toBe('0.12');
    expect(shortNumber(12.345)).toBe('12.3');
    expect(shortNumber(1234)).toBe('1.23k');
    expect(shortNumber(3_400_000)).toBe('3.4M');
  });
});
