// The last day hour by hour (or days), as a row of small bars (oldest left): full when every run of that
// hour was up, red when none was, amber in between, hollow for an hour without runs. The picture
// is summarised in words for screen readers and in a tooltip, so it does not rely on colour.
import { memo } from 'react';
import { hourTone, summarizeHours, type HourShare } from './status';
import './checks.css';

export const UptimeBar = memo(function UptimeBar({
  hours,
  label,
  unit = 'hour',
}: {
  hours: readonly HourShare[];
  label: string;
  unit?: 'hour' | 'day';
}) {
  const summary = summarizeHours(hours, unit);
  return (
    <div
      className="ck-bar"
      role="img"
      aria-label={`${label}: ${summary}`}
      title={summary}
      data-testid="uptime-bar"
      style={{ gridTemplateColumns: `repeat(${hours.length}, 1fr)` }}
    >
      {hours.map((h, i) => (
        <span key={i} className={`ck-bar-h ck-bar-${hourTone(h)}`} />
      ))}
    </div>
  );
});
