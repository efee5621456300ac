// Hourly error rate (percentage of records that are errors) as an SVG bar chart, with a table
// alternative for screen readers.
import { useMemo } from 'react';
import { fillHours, layoutChart, type HourlyRate } from './chart';

const W = 720;
const H = 170;

const hourLabel = (t: number) => new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
const pct = (v: number) => `${Number(v.toFixed(v < 10 ? 1 : 0))}%`;

export function ErrorRateChart({ rates, hours, now }: { rates: readonly HourlyRate[]; hours: number; now?: number }) {
  const points = useMemo(() => fillHours(rates, hours, now), [rates, hours, now]);
  const layout = useMemo(() => layoutChart(points, W, H), [points]);
  const errors = points.reduce((s, p) => s + p.errors, 0);
  const total = points.reduce((s, p) => s + p.total, 0);
  return (
    <figure className="lv-chart">
      <figcaption>
        Error rate per hour, last {hours} h —{' '}
        <span data-testid="error-summary">
          {errors} error{errors === 1 ? '' : 's'} in {total} record{total === 1 ? '' : 's'}
        </span>
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`Hourly error rate, axis up to ${pct(layout.max)}`} preserveAspectRatio="none">
        {layout.ticks.map((t) => (
          <g key={t.value}>
            <line className="lv-grid" x1={layout.plot.left} x2={layout.plot.left + layout.plot.width} y1={t.y} y2={t.y} />
            <text className="lv-axis" x={layout.plot.left - 6} y={t.y + 4} textAnchor="end">
              {pct(t.value)}
            </text>
          </g>
        ))}
        {layout.bars.map((b) => (
          <rect key={b.t} className={b.errors > 0 ? 'lv-bar lv-bar-err' : 'lv-bar'} x={b.x} y={b.y} width={b.w} height={Math.max(b.h, b.total > 0 ? 1 : 0)}>
            <title>{`${hourLabel(b.t)}: ${pct(b.rate)} (${b.errors} of ${b.total})`}</title>
          </rect>
        ))}
        {layout.labels.map((l) => (
          <text key={l.t} className="lv-axis" x={l.x} y={H - 8} textAnchor="middle">
            {hourLabel(l.t)}
          </text>
        ))}
      </svg>
      <table className="sr-only">
        <caption>Hours with records</caption>
        <thead>
          <tr>
            <th>Hour</th>
            <th>Errors</th>
            <th>Records</th>
            <th>Error rate</th>
          </tr>
        </thead>
        <tbody>
          {points
            .filter((p) => p.total > 0)
            .map((p) => (
              <tr key={p.t}>
                <td>{hourLabel(p.t)}</td>
                <td>{p.errors}</td>
                <td>{p.total}</td>
                <td>{pct(p.rate)}</td>
              </tr>
            ))}
        </tbody>
      </table>
    </figure>
  );
}
