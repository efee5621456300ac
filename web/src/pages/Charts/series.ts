// Data shaping for the dashboard charts (plain SVG, no chart library): a Prometheus
// `query_range` matrix becomes named series of points, and series become polylines in a box.

/** One series of a `query_range` answer: its labels and `[unix_seconds, "value"]` pairs. */
export interface MatrixSeries {
  metric: Record<string, string>;
  values: readonly (readonly [number | string, string] | readonly unknown[])[];
}

export interface Point {
  /** Epoch ms. */
  t: number;
  v: number;
}

export interface Series {
  label: string;
  points: Point[];
}

/**
 * Series from a matrix: each named by `label(metric)` (default: the non-`__name__` labels as
 * `k=v`, or the metric name), non-finite values dropped, oldest first. Series that never leave
 * zero are dropped when `dropFlat` (e.g. the dozens of event kinds that saw no events); the rest
 * are ordered by their peak, largest first, and cut to `max`.
 */
export function toSeries(
  result: readonly MatrixSeries[],
  { label = defaultLabel, dropFlat = false, max = 8 }: { label?: (m: Record<string, string>) => string; dropFlat?: boolean; max?: number } = {},
): Series[] {
  const out: { s: Series; peak: number }[] = [];
  for (const r of result) {
    const points: Point[] = [];
    for (const pair of r.values) {
      const t = Number(pair[0]) * 1000;
      const v = Number(pair[1]);
      if (Number.isFinite(t) && Number.isFinite(v)) points.push({ t, v });
    }
    points.sort((a, b) => a.t - b.t);
    if (points.length === 0) continue;
    const peak = Math.max(...points.map((p) => Math.abs(p.v)));
    if (dropFlat && peak === 0) continue;
    out.push({ s: { label: label(r.metric), points }, peak });
  }
  out.sort((a, b) => b.peak - a.peak || a.s.label.localeCompare(b.s.label));
  return out.slice(0, Math.max(0, max)).map((o) => o.s);
}

export function defaultLabel(m: Record<string, string>): string {
  const parts = Object.entries(m)
    .filter(([k]) => k !== '__name__')
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`);
  return parts.length ? parts.join(', ') : (m.__name__ ?? 'value');
}

/** The smallest "nice" axis maximum (1, 2, 2.5, 5 × 10^k) at or above `v`. */
export function niceMax(v: number): number {
  if (!(v > 0) || !Number.isFinite(v)) return 1;
  const exp = Math.floor(Math.log10(v));
  const base = 10 ** exp;
  for (const m of [1, 2, 2.5, 5, 10]) {
    const n = m * base;
    if (n >= v - 1e-12) return Number(n.toPrecision(6));
  }
  return 10 * base;
}

export interface Plot {
  left: number;
  top: number;
  width: number;
  height: number;
}

export interface LineLayout {
  plot: Plot;
  max: number;
  /** SVG `points` attribute per series, in input order. */
  lines: { label: string; points: string; last: Point | null }[];
  ticks: { value: number; y: number }[];
  /** x-axis labels: x and epoch ms. */
  labels: { x: number; t: number }[];
}

/** Lines in a `width`×`height` box over `[start, end]` (epoch ms), the y axis from 0 to a nice max. */
export function layoutLines(
  series: readonly Series[],
  { start, end, width, height, fixedMax }: { start: number; end: number; width: number; height: number; fixedMax?: number },
): LineLayout {
  const plot = { left: 44, top: 8, width: Math.max(10, width - 56), height: Math.max(10, height - 28) };
  const peak = Math.max(0, ...series.flatMap((s) => s.points.map((p) => p.v)));
  const max = fixedMax ?? niceMax(peak);
  const span = Math.max(1, end - start);
  const x = (t: number) => plot.left + ((t - start) / span) * plot.width;
  const y = (v: number) => plot.top + plot.height - (Math.min(Math.max(v, 0), max) / max) * plot.height;
  const r = (n: number) => Math.round(n * 10) / 10;
  const lines = series.map((s) => ({
    label: s.label,
    points: s.points
      .filter((p) => p.t >= start && p.t <= end)
      .map((p) => `${r(x(p.t))},${r(y(p.v))}`)
      .join(' '),
    last: s.points.at(-1) ?? null,
  }));
  const ticks = [0, max / 2, max].map((value) => ({ value, y: r(y(value)) }));
  const labels = [0, 1, 2, 3, 4].map((i) => {
    const t = start + (span * i) / 4;
    return { x: r(x(t)), t };
  });
  return { plot, max, lines, ticks, labels };
}

/** Short number for axes and legends: 0, 0.25, 12, 1.2k, 3.4M. */
export function shortNumber(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${Number((v / 1e6).toPrecision(3))}M`;
  if (a >= 1e3) return `${Number((v / 1e3).toPrecision(3))}k`;
  if (a === 0) return '0';
  return String(Number(v.toPrecision(a < 1 ? 2 : 3)));
}
