// Scaling for the hourly error-rate chart (plain SVG, no chart library): the server lists only
// the hours that have records, so the series is filled out to one bar per hour of the timeframe.

export interface HourlyRate {
  hour: string;
  error_count: number;
  total_count: number;
  error_rate: number;
}

export interface HourPoint {
  /** Start of the hour, epoch ms. */
  t: number;
  errors: number;
  total: number;
  /** Percentage 0-100 of the hour's records that are errors. */
  rate: number;
}

const HOUR = 3_600_000;

/** One point per hour for the `hours` hours up to and including the current one, oldest first. */
export function fillHours(rates: readonly HourlyRate[], hours: number, now = Date.now()): HourPoint[] {
  const last = Math.floor(now / HOUR) * HOUR;
  const first = last - (Math.max(1, hours) - 1) * HOUR;
  const byHour = new Map<number, HourlyRate>();
  for (const r of rates) {
    const t = Math.floor(Date.parse(r.hour) / HOUR) * HOUR;
    if (Number.isFinite(t)) byHour.set(t, r);
  }
  const out: HourPoint[] = [];
  for (let t = first; t <= last; t += HOUR) {
    const r = byHour.get(t);
    out.push(
      r
        ? { t, errors: r.error_count, total: r.total_count, rate: clampRate(r.error_rate) }
        : { t, errors: 0, total: 0, rate: 0 },
    );
  }
  return out;
}

function clampRate(v: number): number {
  return Number.isFinite(v) ? Math.min(100, Math.max(0, v)) : 0;
}

/** The smallest "nice" axis maximum (1, 2, 2.5, 5 × 10^k) at or above `v`, at most 100 (percent). */
export function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const exp = Math.floor(Math.log10(v));
  const base = 10 ** exp;
  for (const m of [1, 2, 2.5, 5, 10]) {
    const n = m * base;
    if (n >= v - 1e-9) return Math.min(100, Number(n.toPrecision(6)));
  }
  return 100;
}

export interface Bar extends HourPoint {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface ChartLayout {
  bars: Bar[];
  max: number;
  /** Horizontal grid lines: value and its y. */
  ticks: { value: number; y: number }[];
  /** x-axis labels every few hours: x centre and the hour's epoch ms. */
  labels: { x: number; t: number }[];
  plot: { left: number; top: number; width: number; height: number };
}

/** Bars in a `width`×`height` box with room on the left for the axis and at the bottom for hours. */
export function layoutChart(points: readonly HourPoint[], width: number, height: number): ChartLayout {
  const plot = { left: 40, top: 8, width: Math.max(10, width - 68), height: Math.max(10, height - 30) };
  const max = niceMax(Math.max(0, ...points.map((p) => p.rate)));
  const n = Math.max(1, points.length);
  const slot = plot.width / n;
  const w = Math.max(1, slot * 0.75);
  const bars = points.map((p, i) => {
    const h = (p.rate / max) * plot.height;
    return { ...p, x: plot.left + i * slot + (slot - w) / 2, y: plot.top + plot.height - h, w, h };
  });
  const ticks = [0, max / 2, max].map((value) => ({ value, y: plot.top + plot.height - (value / max) * plot.height }));
  const every = Math.max(1, Math.ceil(n / 8));
  const labels = points
    .map((p, i) => ({ x: plot.left + i * slot + slot / 2, t: p.t, i }))
    .filter(({ i }) => (n - 1 - i) % every === 0)
    .map(({ x, t }) => ({ x, t }));
  return { bars, max, ticks, labels, plot };
}
