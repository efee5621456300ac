// Dashboard charts from `GET /api/v1/metrics/query_range` (VictoriaMetrics, or the local
// samples table and its PromQL subset): events/s by kind, dead letters, HTTP p95 latency and
// project progress over the last 30 minutes. Each refreshes every 30 s and after a stream
// resync (all four work in both modes; a query the local subset cannot answer would show
// "not available in this mode"). Project progress: `taylordash_project_progress`, sampled by the
// server from each open project's components every push interval (app/progress.ts: the same
// definition as the canvas and the dashboard's overall progress).
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { api, ApiError, data } from '../../api/client';
import { StaleMark, useResync, useStaleSince } from '../../app/live';
import { percent, PROGRESS_HELP } from '../../app/progress';
import { Empty, ErrorMessage, Loading, Tip } from '../../app/ui';
import { LineChart } from './LineChart';
import { toSeries, type MatrixSeries, type Series } from './series';
import './charts.css';

const WINDOW_S = 30 * 60;
const STEP_S = 30;

interface ChartDef {
  id: string;
  title: string;
  query: string;
  unit: string;
  shape: (result: readonly MatrixSeries[]) => Series[];
  empty: string;
  fixedMax?: number;
  /** What the chart shows, in a tooltip beside its title. */
  help?: string;
  /** Legend values as shown. */
  value?: (v: number) => string;
}

export const CHARTS: ChartDef[] = [
  {
    id: 'events',
    title: 'Events/s by kind',
    query: 'sum by (kind) (rate(taylor_ingest_total[5m]))',
    unit: '/s',
    shape: (r) => toSeries(r, { label: (m) => m.kind ?? 'all', dropFlat: true, max: 6 }),
    empty: 'No events stored in the last 30 minutes.',
  },
  {
    id: 'dlq',
    title: 'Dead letters (per 5 min)',
    query: 'sum(increase(taylor_dlq_total[5m]))',
    unit: '',
    shape: (r) => toSeries(r, { label: () => 'dead letters' }),
    empty: 'No dead-letter samples recorded yet.',
  },
  {
    id: 'p95',
    title: 'HTTP p95 latency',
    query: 'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))',
    unit: 'ms',
    shape: (r) =>
      toSeries(
        r.map((s) => ({ ...s, values: s.values.map((p) => [p[0], String(Number(p[1]) * 1000)] as const) })),
        { label: () => 'p95' },
      ),
    empty: 'No HTTP latency samples yet.',
  },
  {
    id: 'progress',
    title: 'Project progress',
    query: 'max by (project) (taylordash_project_progress)',
    unit: '%',
    fixedMax: 100,
    shape: (r) => toSeries(r, { label: (m) => m.project ?? 'project', max: 8 }),
    empty: 'No open projects with components sampled yet.',
    help: PROGRESS_HELP,
    value: (v) => String(percent(v)),
  },
];

async function fetchRange(query: string) {
  const end = Math.floor(Date.now() / 1000);
  const start = end - WINDOW_S;
  const body = await data(
    api.GET('/api/v1/metrics/query_range', {
      params: { query: { query, start: String(start), end: String(end), step: String(STEP_S) } },
    }),
  );
  return { start: start * 1000, end: end * 1000, result: body.data.result as unknown as MatrixSeries[] };
}

function Chart({ def }: { def: ChartDef }) {
  const q = useQuery({
    queryKey: ['charts', def.id],
    queryFn: () => fetchRange(def.query),
    refetchInterval: 30_000,
    retry: (n, e) => !(e instanceof ApiError && e.status < 500) && n < 2,
  });
  const series = q.data ? def.shape(q.data.result) : [];
  const unsupported = q.error instanceof ApiError && q.error.code === 'QUERY_UNSUPPORTED';
  const staleSince = useStaleSince();
  return (
    <article className="panel ch-panel" aria-labelledby={`ch-${def.id}`} data-testid={`chart-${def.id}`}>
      <h2 id={`ch-${def.id}`}>
        {def.title} <StaleMark since={q.data ? staleSince : null} />
        {def.help && <Tip label={`About ${def.title.toLowerCase()}`}>{def.help}</Tip>}
      </h2>
      {q.isPending ? (
        <Loading />
      ) : unsupported ? (
        <Empty>Not available in this mode: needs VictoriaMetrics (VICTORIA_METRICS_URL) for this query.</Empty>
      ) : q.error ? (
        <ErrorMessage error={q.error} onRetry={() => void q.refetch()} />
      ) : series.length === 0 ? (
        <Empty>{def.empty}</Empty>
      ) : (
        <LineChart
          series={series}
          start={q.data.start}
          end={q.data.end}
          unit={def.unit}
          fixedMax={def.fixedMax}
          label={def.title}
          value={def.value}
        />
      )}
    </article>
  );
}

export default function DashboardCharts() {
  const qc = useQueryClient();
  useResync(() => void qc.invalidateQueries({ queryKey: ['charts'] }));
  return (
    <section className="ch-grid" aria-label="Charts">
      {CHARTS.map((c) => (
        <Chart key={c.id} def={c} />
      ))}
    </section>
  );
}
