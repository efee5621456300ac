// The dashboard leads with the lab: what is down or impacted now (with the reason and since
// when), then the certificates that expire soon, then everything else at a glance. Built from
// each open project's graph and check summary, kept current by the live stream (a check's
// state change shows at once) and a slow poll.
import { useEffect, useMemo, useRef } from 'react';
import { Link } from 'react-router';
import { useQueries, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, data } from '../../api/client';
import { canvasApi, graphKey } from '../../canvas/api';
import { StaleMark, useLiveEvents, useStaleSince } from '../../app/live';
import { Empty, ErrorMessage, Loading } from '../../app/ui';
import { checksApi, projectChecksKey, SUMMARY_POLL_MS, useLiveChecks } from '../../checks/api';
import { ComponentIcon } from '../../checks/icons';
import { UptimeBar } from '../../checks/UptimeBar';
import { formatLatency, formatUptime, HEALTH_LABEL } from '../../checks/status';
import { CERT_HORIZON_DAYS, certText, durationText, labView, type LabItem } from './lab';
import '../../checks/checks.css';
import './lab.css';

/** The open projects (archived ones are not the lab), at most 100. */
function useOpenProjects() {
  return useQuery({
    queryKey: ['projects', 'lab'],
    queryFn: async () => {
      const list = await data(api.GET('/api/v1/projects', { params: { query: { limit: 100 } } }));
      return list.projects.filter((p) => p.status !== 'archived').map((p) => ({ id: p.id, name: p.name }));
    },
  });
}

export function componentPage(projectId: string, componentId: string) {
  return `/projects/${projectId}/components/${componentId}`;
}

export default function LabStatus() {
  const projects = useOpenProjects();
  const list = projects.data ?? [];
  const ids = useMemo(() => list.map((p) => p.id), [list]);
  useLiveChecks(ids);
  const graphs = useQueries({
    queries: list.map((p) => ({ queryKey: graphKey(p.id), queryFn: () => canvasApi.graph(p.id) })),
  });
  const checks = useQueries({
    queries: list.map((p) => ({
      queryKey: projectChecksKey(p.id),
      queryFn: () => checksApi.project(p.id),
      refetchInterval: SUMMARY_POLL_MS,
    })),
  });
  // A component added, renamed, linked or deleted changes the picture: refetch the graphs (at
  // most every half second: a drag elsewhere sends many).
  const client = useQueryClient();
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => () => void (timer.current && clearTimeout(timer.current)), []);
  useLiveEvents('tracker/events/components/#', () => {
    if (timer.current) return;
    timer.current = setTimeout(() => {
      timer.current = null;
      for (const id of ids) void client.invalidateQueries({ queryKey: graphKey(id) });
    }, 500);
  });
  const staleSince = useStaleSince();
  const pending = projects.isPending || graphs.some((g) => g.isPending) || checks.some((c) => c.isPending);
  const error = projects.error ?? graphs.find((g) => g.error)?.error ?? checks.find((c) => c.error)?.error;
  // Cheap (a walk over the graphs): computed on each render.
  const view = labView(list.map((p, i) => ({ ...p, graph: graphs[i]?.data, checks: checks[i]?.data })));
  const stale = staleSince !== null && !pending;
  const trouble = view.counts.down + view.counts.impacted + view.counts.degraded;
  const soonCerts = view.certs.filter((c) => c.days <= CERT_HORIZON_DAYS);
  const nextCert = view.certs.find((c) => c.days > CERT_HORIZON_DAYS);

  return (
    <section className={`panel lab${stale ? ' stale' : ''}${trouble ? ' lab-trouble' : ''}`} aria-labelledby="lab-title" data-testid="lab">
      <h2 id="lab-title">
        <span>Your lab</span>
        <StaleMark since={stale ? staleSince : null} />
        {!pending && view.checked > 0 && (
          <span className="lab-summary" data-testid="lab-summary">
            {trouble === 0
              ? `All ${view.checked} checked ${view.checked === 1 ? 'service is' : 'services are'} up`
              : [
                  view.counts.down && `${view.counts.down} down`,
                  view.counts.impacted && `${view.counts.impacted} impacted`,
                  view.counts.degraded && `${view.counts.degraded} degraded`,
                ]
                  .filter(Boolean)
                  .join(' · ')}
          </span>
        )}
      </h2>
      {pending ? (
        <Loading label="Loading the lab…" />
      ) : error ? (
        <ErrorMessage error={error} onRetry={() => void projects.refetch()} />
      ) : view.checked === 0 ? (
        <Empty>
          No service checks yet. Open a component on a project’s <Link to="/canvas">canvas</Link> and add a check (HTTP,
          TCP, ping, DNS, MQTT heartbeat or a push URL): its state shows here and on the canvas, live.
        </Empty>
      ) : (
        <div className="lab-body">
          <div className="lab-now">
            <h3>Needs attention now</h3>
            {view.attention.length === 0 ? (
              <p className="lab-allgood" data-testid="lab-allgood">
                <span className="ck-up ck-state">
                  <span className="ck-dot" aria-hidden="true" />
                  Nothing is down.
                </span>
              </p>
            ) : (
              <ol className="lab-list" data-testid="lab-attention" aria-live="polite">
                {view.attention.map((item) => (
                  <AttentionRow key={`${item.projectId}/${item.componentId}`} item={item} multi={ids.length > 1} />
                ))}
              </ol>
            )}
          </div>
          <div className="lab-certs">
            <h3>Certificates</h3>
            {soonCerts.length === 0 ? (
              <p className="muted" data-testid="lab-certs-none">
                None expires within {CERT_HORIZON_DAYS} days.
                {nextCert && (
                  <>
                    {' '}
                    Next: {nextCert.componentName}, {certText(nextCert.days)}.
                  </>
                )}
              </p>
            ) : (
              <ul className="lab-cert-list" data-testid="lab-certs">
                {soonCerts.map((c) => (
                  <li key={`${c.componentId}/${c.checkName}`} className={c.days < 0 ? 'ck-down' : c.days <= 7 ? 'ck-down' : 'ck-degraded'}>
                    <span className="ck-state">
                      <span className="ck-dot" aria-hidden="true" />
                      {certText(c.days)}
                    </span>
                    <Link to={componentPage(c.projectId, c.componentId)}>{c.componentName}</Link>
                    <span className="muted">{c.checkName}</span>
                    <time className="muted" dateTime={c.expiresAt}>
                      {new Date(c.expiresAt).toLocaleDateString()}
                    </time>
                  </li>
                ))}
              </ul>
            )}
          </div>
          {view.rest.length > 0 && (
            <div className="lab-rest">
              <h3>Everything else</h3>
              <ul className="lab-tiles" data-testid="lab-rest">
                {view.rest.map((item) => (
                  <RestTile key={`${item.projectId}/${item.componentId}`} item={item} />
                ))}
              </ul>
            </div>
          )}
        </div>
      )}
    </section>
  );
}

function AttentionRow({ item, multi }: { item: LabItem; multi: boolean }) {
  const h = item.health;
  const detail =
    h.health === 'impacted'
      ? `needs ${h.causeNames.join(', ')}, which ${h.causeNames.length === 1 ? 'is' : 'are'} down`
      : (h.error ?? '');
  return (
    <li className={`lab-row ck-${h.health}`} data-testid="lab-item" data-health={h.health} data-id={item.componentId}>
      <span className="ck-state lab-state">
        <span className="ck-dot" aria-hidden="true" />
        {HEALTH_LABEL[h.health]}
      </span>
      <span className="lab-name">
        <ComponentIcon icon={item.icon} size={18} className="lab-icon" />
        <Link to={componentPage(item.projectId, item.componentId)}>{item.name}</Link>
        {item.url && (
          <a href={item.url} target="_blank" rel="noopener noreferrer" aria-label={`Open ${item.name} in a new tab`} className="lab-open">
            ↗
          </a>
        )}
        {multi && <span className="muted lab-project">{item.projectName}</span>}
      </span>
      <span className="lab-detail">{detail}</span>
      {item.since && h.health !== 'impacted' && (
        <time className="muted lab-since" dateTime={item.since} title={new Date(item.since).toLocaleString()}>
          for {durationText(Date.now() - Date.parse(item.since))}
        </time>
      )}
    </li>
  );
}

function RestTile({ item }: { item: LabItem }) {
  const h = item.health;
  const latency = formatLatency(h.latencyMs);
  return (
    <li className={`lab-tile ck-${h.health}`} data-testid="lab-tile" data-health={h.health} data-id={item.componentId}>
      <span className="lab-tile-head">
        <span className="ck-dot" aria-hidden="true" />
        <ComponentIcon icon={item.icon} size={16} className="lab-icon" />
        <Link to={componentPage(item.projectId, item.componentId)} className="lab-tile-name">
          {item.name}
        </Link>
      </span>
      <span className="lab-tile-meta">
        <span className="ck-state">{HEALTH_LABEL[h.health]}</span>
        {latency && h.own === 'up' && <span>{latency}</span>}
        {h.uptime24h != null && <span title="Up in the last 24 hours">{formatUptime(h.uptime24h)}</span>}
      </span>
      {h.hours && <UptimeBar hours={h.hours} label={`${item.name}, the last 24 hours`} />}
    </li>
  );
}
