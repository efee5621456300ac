// One check's history: uptime over 24 hours, 7, 30 and 365 days, the last day hour by hour and
// the last 30 days day by day, the latency chart (the dashboard's chart code) and the outages
// (down runs in a row) from the raw results the server keeps.
import { useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { Empty, ErrorMessage, Loading } from '../../app/ui';
import { checksApi, historyKey, uptimeKey, type Check } from '../../checks/api';
import { UptimeBar } from '../../checks/UptimeBar';
import { durationText, formatLatency, formatUptime, hoursFromBars, sharesFromBars } from '../../checks/status';
import { LineChart } from '../Charts/LineChart';
import '../Charts/charts.css';
import { latencySeries, latencyStats, outageLength, outages, windowFor } from './history';

const WINDOWS: Record<number, string> = { 24: '24 hours', 168: '7 days', 720: '30 days', 8760: '365 days' };

export function CheckHistory({ check }: { check: Check }) {
  // A young check's runs fill a short window better than a mostly empty day.
  const [hours, setHours] = useState(() => windowFor(Date.now() - Date.parse(check.created_at)));
  // Refetched when the check's state or last run changes (the page passes a fresh check).
  const stamp = `${check.status}|${check.last_checked_at ?? ''}`;
  const uptime = useQuery({ queryKey: [...uptimeKey(check.id), stamp], queryFn: () => checksApi.uptime(check.id) });
  const history = useQuery({
    queryKey: [...historyKey(check.id, hours), stamp],
    queryFn: () => checksApi.history(check.id, hours),
    placeholderData: (prev) => prev,
  });
  const now = Date.now();
  const series = history.data ? latencySeries(history.data.results, check.name) : null;
  const stats = series ? latencyStats(series) : null;
  const list = history.data ? outages(history.data.results) : [];

  return (
    <section className="ck-history" aria-label={`History of ${check.name}`} data-testid="check-history">
      <h3>Uptime</h3>
      {uptime.isPending ? (
        <Loading label="Loading uptime…" />
      ) : uptime.isError ? (
        <ErrorMessage error={uptime.error} onRetry={() => void uptime.refetch()} />
      ) : (
        <>
          <dl className="ck-windows">
            {uptime.data.windows.map((w) => (
              <div key={w.hours} className="ck-window">
                <dt>{WINDOWS[w.hours] ?? `${w.hours} h`}</dt>
                <dd data-testid={`uptime-${w.hours}`}>{formatUptime(w.ratio)}</dd>
                <dd className="muted small">
                  {w.down > 0 ? `${w.down} down of ${w.up + w.degraded + w.down} runs` : `${w.up + w.degraded} runs`}
                </dd>
              </div>
            ))}
          </dl>
          <div className="ck-bars">
            <span className="muted small">Last 24 hours</span>
            <UptimeBar hours={hoursFromBars(uptime.data.hourly, now)} label={`${check.name}, the last 24 hours`} />
            <span className="muted small">Last 30 days</span>
            <UptimeBar hours={sharesFromBars(uptime.data.daily, 86_400_000, 30, now)} unit="day" label={`${check.name}, the last 30 days`} />
          </div>
        </>
      )}

      <div className="ck-history-head">
        <h3>Latency</h3>
        <label>
          <span className="sr-only">Window</span>
          <select value={hours} onChange={(e) => setHours(Number(e.target.value))} aria-label="History window">
            <option value={1}>1 hour</option>
            <option value={6}>6 hours</option>
            <option value={24}>24 hours</option>
            <option value={48}>48 hours</option>
          </select>
        </label>
      </div>
      {history.isPending ? (
        <Loading label="Loading results…" />
      ) : history.isError ? (
        <ErrorMessage error={history.error} onRetry={() => void history.refetch()} />
      ) : series && series.points.length > 0 ? (
        <>
          <LineChart
            series={[series]}
            start={now - hours * 3_600_000}
            end={now}
            unit="ms"
            label={`Latency of ${check.name} over the last ${hours} hours`}
          />
          {stats && (
            <p className="muted small" data-testid="latency-stats">
              median {formatLatency(stats.p50)} · p95 {formatLatency(stats.p95)} · max {formatLatency(stats.max)} ·{' '}
              {history.data.count} runs
            </p>
          )}
        </>
      ) : (
        <Empty>No answered runs in this window.</Empty>
      )}

      <h3>Outages</h3>
      {history.data && list.length === 0 ? (
        <p className="muted" data-testid="no-outages">
          None in the last {hours} {hours === 1 ? 'hour' : 'hours'}.
        </p>
      ) : (
        list.length > 0 && (
          <table className="ck-outages" data-testid="outages">
            <thead>
              <tr>
                <th scope="col">Started</th>
                <th scope="col">Lasted</th>
                <th scope="col">Failed runs</th>
                <th scope="col">Error</th>
              </tr>
            </thead>
            <tbody>
              {list.map((o) => (
                <tr key={o.start} className={o.end ? '' : 'ck-down'}>
                  <td>
                    <time dateTime={o.start}>{new Date(o.start).toLocaleString()}</time>
                  </td>
                  <td>{o.end ? durationText(outageLength(o, now)) : <strong className="ck-state">ongoing, {durationText(outageLength(o, now))}</strong>}</td>
                  <td>{o.runs}</td>
                  <td className="ck-outage-error">{o.error ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )
      )}
    </section>
  );
}
