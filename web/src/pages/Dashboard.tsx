// The HUD: the lab first (pages/Lab: what is down or impacted, certificates, the rest), then
// TaylorDash's own stack health as a small tile, project counts by status and overall progress,
// dead letters waiting, the live event feed and recent changes. Everything updates from the live stream (caches are
// invalidated on events and on resync); nothing reloads the page. While the live connection is
// down every panel is marked stale (since when), and the stack health says "unknown" instead of
// repeating the last answer.
import { lazy, Suspense, useState } from 'react';
import { Link } from 'react-router';
import { useQueries, useQuery } from '@tanstack/react-query';
import { api, data } from '../api/client';
import type { components } from '../api/schema';
import { clockTime, StaleMark, useLiveEvents, useStaleSince } from '../app/live';
import { percent, PROGRESS_HELP } from '../app/progress';
import { Badge, Empty, ErrorMessage, Loading, Tip, timeAgo } from '../app/ui';
import type { LiveEvent } from '../live/stream';
import { isAuditTopic } from '../live/topic';
import { GetStarted } from './GetStarted';
import LabStatus from './Lab/LabStatus';
import './dashboard.css';

type Status = components['schemas']['ProjectStatusSchema'];
export const STATUSES: { value: Status; label: string }[] = [
  { value: 'planning', label: 'Planning' },
  { value: 'active', label: 'Active' },
  { value: 'on_hold', label: 'On hold' },
  { value: 'completed', label: 'Completed' },
  { value: 'archived', label: 'Archived' },
];
const FEED = 15;
// Charts (query_range) load as their own chunk.
const DashboardCharts = lazy(() => import('./Charts'));

export default function DashboardPage({ kiosk = false }: { kiosk?: boolean }) {
  return (
    <section className={`page dashboard${kiosk ? ' dashboard-kiosk' : ''}`} aria-label="Dashboard">
      {!kiosk && <h1>Dashboard</h1>}
      {!kiosk && <GetStarted />}
      <LabStatus />
      <div className="hud-grid">
        <StackHealth />
        <ProjectCounts />
        <DeadLetters />
        <EventFeed />
        <RecentActivity />
      </div>
      <Suspense fallback={<Loading label="Loading charts…" />}>
        <DashboardCharts />
      </Suspense>
    </section>
  );
}

export function tone(status: string): 'ok' | 'warn' | 'bad' | 'off' {
  if (status === 'healthy') return 'ok';
  if (status === 'not_configured') return 'off';
  if (status === 'degraded' || status === 'unknown') return 'warn';
  return 'bad';
}

/** The stack's overall status is never "not configured"; anything unexpected reads as bad. */
function overallTone(status: string): 'ok' | 'warn' | 'bad' {
  const t = tone(status);
  return t === 'off' ? 'bad' : t;
}

const SERVICE_NAMES: Record<string, string> = {
  database: 'Database',
  mqtt: 'Event bus',
  api: 'API',
  object_store: 'Object store',
  victoria_metrics: 'VictoriaMetrics',
  prometheus: 'Prometheus',
  grafana: 'Grafana',
  otlp: 'Trace collector',
};

/** A service's display name (unknown keys humanised, so a new service still reads well). */
export function serviceName(key: string): string {
  return SERVICE_NAMES[key] ?? key.replaceAll('_', ' ').replace(/^./, (c) => c.toUpperCase());
}

/** `not_configured` → "Not configured". */
export function statusText(status: string): string {
  return status.replaceAll('_', ' ').replace(/^./, (c) => c.toUpperCase());
}

/**
 * Since when the stack health shown is not current: the live connection is down, or the last
 * refetch failed (the server did not answer); `null` while it is.
 */
export function healthStaleSince(
  streamDownSince: number | null,
  q: { data?: unknown; isRefetchError: boolean; errorUpdatedAt: number },
): number | null {
  if (!q.data) return null;
  if (streamDownSince !== null) return streamDownSince;
  return q.isRefetchError ? q.errorUpdatedAt : null;
}

function StackHealth() {
  const q = useQuery({
    queryKey: ['dashboard', 'health'],
    queryFn: () => data(api.GET('/api/v1/health/stack')),
    refetchInterval: 30_000,
  });
  const staleSince = healthStaleSince(useStaleSince(), q);
  const stale = staleSince !== null;
  return (
    <article className={`panel hud-health hud-compact${stale ? ' stale' : ''}`} aria-labelledby="hud-health">
      <h2 id="hud-health">
        <span>TaylorDash stack</span>
        {q.data && (
          <span className="panel-state" data-testid="stack-health">
            {stale ? (
              <Badge tone="warn">unknown</Badge>
            ) : (
              <Badge tone={overallTone(q.data.overall_status)}>{q.data.overall_status}</Badge>
            )}
            <StaleMark since={staleSince} />
          </span>
        )}
      </h2>
      {q.isPending ? (
        <Loading />
      ) : !q.data ? (
        <ErrorMessage error={q.error} onRetry={() => void q.refetch()} />
      ) : (
        <>
          {stale && (
            <p className="stale-note" role="note">
              Last known state, checked at {clockTime(q.dataUpdatedAt)}: {q.data.overall_status}. The server
              cannot be reached now.
            </p>
          )}
          <ul className="tiles">
            {Object.entries(q.data.services).map(([name, s]) => (
              <li key={name} className={`tile tile-${stale ? 'off' : tone(s.status)}`} title={`${s.type}: ${s.message}`}>
                <span className="tile-name">{serviceName(name)}</span>
                <span className="tile-status">
                  {statusText(s.status)}
                  {s.latency_ms != null && s.status !== 'not_configured' && (
                    <span className="tile-detail"> · {s.latency_ms < 10 ? s.latency_ms.toFixed(1) : Math.round(s.latency_ms)} ms</span>
                  )}
                </span>
                <span className="tile-detail">{s.type}</span>
                <span className="tile-detail">{s.message}</span>
              </li>
            ))}
          </ul>
        </>
      )}
    </article>
  );
}

function ProjectCounts() {
  const counts = useQueries({
    queries: STATUSES.map((s) => ({
      queryKey: ['projects', 'count', s.value],
      queryFn: () => data(api.GET('/api/v1/projects', { params: { query: { status: s.value, limit: 1 } } })),
    })),
  });
  const pending = counts.some((c) => c.isPending);
  const error = counts.find((c) => c.error)?.error;
  const by = Object.fromEntries(STATUSES.map((s, i) => [s.value, counts[i]?.data?.total ?? 0])) as Record<Status, number>;
  const total = STATUSES.reduce((n, s) => n + by[s.value], 0);
  const staleSince = useStaleSince();
  const stale = staleSince !== null && !pending;
  return (
    <article className={`panel hud-projects${stale ? ' stale' : ''}`} aria-labelledby="hud-projects">
      <h2 id="hud-projects">
        <span>Projects</span>
        <StaleMark since={stale ? staleSince : null} />
        <Link to="/projects">all {pending ? '' : total}</Link>
      </h2>
      {pending ? (
        <Loading />
      ) : error ? (
        <ErrorMessage error={error} />
      ) : (
        <>
          <ul className="counts">
            {STATUSES.map((s) => (
              <li key={s.value} className={`count count-${s.value}`}>
                <Link to={`/projects?status=${s.value}`}>
                  <span className="count-n" data-testid={`count-${s.value}`}>
                    {by[s.value]}
                  </span>
                  <span className="count-label">{s.label}</span>
                </Link>
              </li>
            ))}
          </ul>
          <OverallProgress />
        </>
      )}
    </article>
  );
}

/** The average progress of the open projects, as the server computes it for the chart too. */
function OverallProgress() {
  const q = useQuery({
    queryKey: ['dashboard', 'progress'],
    queryFn: () => data(api.GET('/api/v1/projects/progress')),
  });
  if (q.isPending) return <Loading label="Loading progress…" />;
  if (q.error) return <ErrorMessage error={q.error} onRetry={() => void q.refetch()} />;
  const { overall, measured } = q.data;
  const value = overall == null ? null : percent(overall);
  return (
    <>
      <div className="progress-row">
        <span>Overall progress</span>
        <progress max={100} value={value ?? 0} aria-label="Overall progress">
          {value ?? 0}%
        </progress>
        <strong data-testid="overall-progress">{value === null ? '—' : `${value}%`}</strong>
        <Tip label="How progress is computed">{PROGRESS_HELP}</Tip>
      </div>
      <p className="muted small">
        {value === null
          ? 'Nothing to measure yet: add components to a project.'
          : `Average of ${measured} open ${measured === 1 ? 'project' : 'projects'} with components`}
      </p>
    </>
  );
}

function DeadLetters() {
  const q = useQuery({
    queryKey: ['dashboard', 'dlq'],
    queryFn: () => data(api.GET('/api/v1/dlq', { params: { query: { limit: 1 } } })),
    refetchInterval: 30_000,
  });
  const n = q.data?.pending ?? 0;
  const staleSince = useStaleSince();
  const stale = staleSince !== null && q.data !== undefined;
  return (
    <article className={`panel hud-dlq${n > 0 ? ' has-dead' : ''}${stale ? ' stale' : ''}`} aria-labelledby="hud-dlq">
      <h2 id="hud-dlq">
        <span>Dead letters</span>
        <StaleMark since={stale ? staleSince : null} />
      </h2>
      {q.isPending ? (
        <Loading />
      ) : q.error ? (
        <ErrorMessage error={q.error} />
      ) : (
        <Link to="/events?tab=dlq" className="dlq-link">
          <span className="count-n" data-testid="dlq-count">
            {n}
          </span>
          <span>{n === 1 ? 'message waits' : 'messages wait'} for replay</span>
        </Link>
      )}
    </article>
  );
}

/** Fetched history merged with what arrived live since, newest first, without duplicates. */
export function mergeFeed(live: LiveEvent[], fetched: LiveEvent[], max: number): LiveEvent[] {
  const seen = new Set<number>();
  const out: LiveEvent[] = [];
  for (const e of [...live, ...fetched]) {
    if (seen.has(e.id)) continue;
    seen.add(e.id);
    out.push(e);
  }
  return out.sort((a, b) => b.id - a.id).slice(0, max);
}

/**
 * The newest `max` events matching `filter`, kept current by the live stream. The lab's events
 * only: the audit trail's (sign-ins, user and key changes) are on the Admin screen, not here.
 */
function useFeed(filter: string, max: number) {
  const [live, setLive] = useState<LiveEvent[]>([]);
  const q = useQuery({
    queryKey: ['dashboard', 'events', filter],
    queryFn: () => data(api.GET('/api/v1/events', { params: { query: { topic: filter, limit: max, audit: false } } })),
  });
  useLiveEvents(filter, (e) => {
    if (!isAuditTopic(e.topic)) setLive((l) => [e, ...l].slice(0, max));
  });
  return { q, items: mergeFeed(live, q.data?.events ?? [], max) };
}

function EventFeed() {
  const { q, items } = useFeed('#', FEED);
  const staleSince = useStaleSince();
  const stale = staleSince !== null && q.data !== undefined;
  return (
    <article className={`panel hud-feed${stale ? ' stale' : ''}`} aria-labelledby="hud-feed">
      <h2 id="hud-feed">
        <span>Live events</span>
        <StaleMark since={stale ? staleSince : null} />
        <Link to="/events">open</Link>
      </h2>
      {q.isPending ? (
        <Loading />
      ) : q.error ? (
        <ErrorMessage error={q.error} />
      ) : items.length === 0 ? (
        <Empty>No events yet.</Empty>
      ) : (
        <ol className="feed" aria-live="polite" data-testid="event-feed">
          {items.map((e) => (
            <li key={e.id}>
              <Link to={`/events?tab=history&event=${e.id}`} className="feed-kind">
                {e.kind}
              </Link>
              <span className="feed-topic">{e.topic}</span>
              <time dateTime={e.created_at} className="muted">
                {timeAgo(e.created_at)}
              </time>
            </li>
          ))}
        </ol>
      )}
    </article>
  );
}

/** "Project “Roof” updated", from a domain event. */
export function describe(e: LiveEvent): string {
  const p = e.payload as Record<string, unknown>;
  const [, , domain, action] = e.topic.split('/');
  const noun = { projects: 'Project', components: 'Component', tasks: 'Task', dependencies: 'Dependency' }[domain ?? ''];
  const name = typeof p.name === 'string' ? p.name : typeof p.title === 'string' ? p.title : null;
  if (!noun) return e.kind;
  return `${noun}${name ? ` “${name}”` : ''} ${action ?? 'changed'}`;
}

const DOMAIN = /^tracker\/events\/(projects|components|tasks|dependencies)\//;

function RecentActivity() {
  // Changes to projects and their parts.
  const { q, items: all } = useFeed('tracker/events/#', 60);
  const items = all.filter((e) => DOMAIN.test(e.topic)).slice(0, 8);
  const staleSince = useStaleSince();
  const stale = staleSince !== null && q.data !== undefined;
  return (
    <article className={`panel hud-activity${stale ? ' stale' : ''}`} aria-labelledby="hud-activity">
      <h2 id="hud-activity">
        <span>Recent activity</span>
        <StaleMark since={stale ? staleSince : null} />
      </h2>
      {q.isPending ? (
        <Loading />
      ) : q.error ? (
        <ErrorMessage error={q.error} />
      ) : items.length === 0 ? (
        <Empty>Nothing has changed yet.</Empty>
      ) : (
        <ul className="activity">
          {items.map((e) => (
            <li key={e.id}>
              <span>{describe(e)}</span>
              <time dateTime={e.created_at} className="muted">
                {timeAgo(e.created_at)}
              </time>
            </li>
          ))}
        </ul>
      )}
    </article>
  );
}
