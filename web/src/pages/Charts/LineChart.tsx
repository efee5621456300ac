// A small SVG line chart: y axis from 0, x axis over the queried window, a legend with each
// series' latest value. No chart library.
import { useMemo } from 'react';
import { layoutLines, shortNumber, type Series } from './series';

const W = 520;
const H = 170;

const timeLabel = (t: number) => new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

export function LineChart({
  series,
  start,
  end,
  unit,
  fixedMax,
  label,
  value = shortNumber,
}: {
  series: readonly Series[];
  start: number;
  end: number;
  unit: string;
  fixedMax?: number;
  label: string;
  /** A legend value as shown (default: a short number). */
  value?: (v: number) => string;
}) {
  const layout = useMemo(() => layoutLines(series, { start, end, width: W, height: H, fixedMax }), [series, start, end, fixedMax]);
  const { plot } = layout;
  return (
    <figure className="ch-figure">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${label}, axis up to ${shortNumber(layout.max)} ${unit}`}>
        {layout.ticks.map((t) => (
          <g key={t.value}>
            <line className="ch-grid" x1={plot.left} x2={plot.left + plot.width} y1={t.y} y2={t.y} />
            <text className="ch-axis" x={plot.left - 6} y={t.y + 4} textAnchor="end">
              {shortNumber(t.value)}
            </text>
          </g>
        ))}
        {layout.labels.map((l, i) => (
          <text key={l.t} className="ch-axis" x={l.x} y={H - 6} textAnchor={i === 0 ? 'start' : i === layout.labels.length - 1 ? 'end' : 'middle'}>
            {timeLabel(l.t)}
          </text>
        ))}
        {layout.lines.map((l, i) =>
          l.points.includes(' ') ? (
            <polyline key={l.label} className={`ch-line ch-c${i % 8}`} points={l.points} />
          ) : (
            l.points && <circle key={l.label} className={`ch-dot ch-c${i % 8}`} cx={l.points.split(',')[0]} cy={l.points.split(',')[1]} r={2.5} />
          ),
        )}
      </svg>
      <figcaption>
        <ul className="ch-legend">
          {layout.lines.map((l, i) => (
            <li key={l.label}>
              <span className={`ch-swatch ch-c${i % 8}`} aria-hidden="true" />
              <span className="ch-name">{l.label}</span>
              {l.last && (
                <span className="ch-value">
                  {value(l.last.v)} {unit}
                </span>
              )}
            </li>
          ))}
        </ul>
      </figcaption>
    </figure>
  );
}
