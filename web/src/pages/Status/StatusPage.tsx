// The public status page (`/status/<token>`): outside the signed-in shell, no navigation and no
// sign-in. Component states, uptime over 24 hours and 30 days, 30 daily bars. It asks again
// every 30 s; when the server cannot be reached it keeps what it showed, marked stale since
// when. A link that was turned off or replaced shows "not found". `?refresh=<seconds>` (5 at
// least) asks more or less often.
import { useEffect, useState } from 'react';
import { useParams, useSearchParams } from 'react-router';
import { useQuery } from '@tanstack/react-query';
import { api, ApiError, data } from '../../api/client';
import { Loading } from '../../app/ui';
import {
  barPaths, daysSummary, headline, percent, refreshMs, stateOf,
  type PublicComponent, type PublicStatus,
} from './status';
import './status.css';

const BAR_W = 300;
const BAR_H = 28;

async function fetchStatus(token: string): Promise<PublicStatus> {
  return data(api.GET('/api/v1/status/{token}', { params: { path: { token } } }));
}

function isNotFound(e: unknown): boolean {
  return e instanceof ApiError && e.status === 404;
}

export default function StatusPage() {
  const { token = '' } = useParams();
  const [search] = useSearchParams();
  const every = refreshMs(search.get('refresh'));
  const q = useQuery({
    queryKey: ['public-status', token],
    queryFn: () => fetchStatus(token),
    retry: false,
    staleTime: 0,
    refetchInterval: (query) => (isNotFound(query.state.error) ? false : every),
    refetchIntervalInBackground: true,
    refetchOnWindowFocus: true,
  });
  // When the last refresh failed: the page keeps its last answer, marked stale since then.
  const [staleSince, setStaleSince] = useState<number | null>(null);
  useEffect(() => {
    if (q.isError && !isNotFound(q.error)) setStaleSince((s) => s ?? q.errorUpdatedAt);
    if (q.isSuccess && q.dataUpdatedAt >= q.errorUpdatedAt) setStaleSince(null);
  }, [q.isError, q.isSuccess, q.error, q.errorUpdatedAt, q.dataUpdatedAt]);
  const page = q.data;
  useEffect(() => {
    document.title = page ? `${page.project} — status` : 'Status';
  }, [page]);

  if (q.isPending) {
    return (
      <main className="sp sp-center">
        <Loading label="Loading the status…" />
      </main>
    );
  }
  if (isNotFound(q.error) || (!page && q.isError)) {
    const gone = isNotFound(q.error);
    return (
      <main className="sp sp-center" data-state={gone ? 'not-found' : 'unreachable'}>
        <div className="sp-missing">
          <h1>{gone ? 'Status page not found' : 'The status cannot be loaded'}</h1>
          <p className="muted">
            {gone
              ? 'This link does not lead to a status page: it may have been turned off or replaced.'
              : `The server cannot be reached. This page tries again every ${every / 1000} seconds.`}
          </p>
        </div>
      </main>
    );
  }
  if (!page) return null;
  const head = headline(page);
  return (
    <main className={`sp${staleSince !== null ? ' sp-stale' : ''}`} data-state="ready" aria-labelledby="sp-title">
      <header className="sp-header">
        <h1 id="sp-title">{page.project}</h1>
        <p className={`sp-headline sp-tone-${head.tone}`} role="status">
          <span className="sp-dot" aria-hidden="true" />
          {head.text}
        </p>
      </header>
      {staleSince !== null && (
        <p className="sp-stale-note" role="alert">
          Stale: the server has not answered since{' '}
          <time dateTime={new Date(staleSince).toISOString()}>{new Date(staleSince).toLocaleTimeString()}</time>.
          What you see may be out of date.
        </p>
      )}
      {page.components.length === 0 ? (
        <p className="muted">No component of this project has a check yet.</p>
      ) : (
        <ul className="sp-list" aria-label="Components">
          {page.components.map((c, i) => (
            <ComponentRow key={`${i}-${c.name}`} c={c} />
          ))}
        </ul>
      )}
      <footer className="sp-footer muted">
        {page.last_checked_at ? (
          <>
            Last checked{' '}
            <time dateTime={page.last_checked_at}>{new Date(page.last_checked_at).toLocaleString()}</time>
          </>
        ) : (
          'No check has run yet'
        )}
        {' · '}updated every {every / 1000} s{' · '}uptime counts runs that were up or degraded
      </footer>
    </main>
  );
}

function ComponentRow({ c }: { c: PublicComponent }) {
  const state = stateOf(c.status);
  const paths = barPaths(c.days, BAR_W, BAR_H);
  const summary = daysSummary(c.days);
  return (
    <li className="sp-item" data-status={c.status}>
      <div className="sp-item-head">
        <h2 className="sp-name">{c.name}</h2>
        <span className={`sp-state sp-tone-${state.tone}`}>
          <span className="sp-dot" aria-hidden="true" />
          {state.label}
        </span>
      </div>
      <svg
        className="sp-bars"
        viewBox={`0 0 ${BAR_W} ${BAR_H}`}
        preserveAspectRatio="none"
        role="img"
        aria-label={summary}
      >
        <title>{summary}</title>
        {(['none', 'ok', 'warn', 'bad'] as const).map((tone) =>
          paths[tone] ? <path key={tone} className={`sp-bar-${tone}`} d={paths[tone]} /> : null,
        )}
      </svg>
      <div className="sp-uptime">
        <span>30 days ago</span>
        <span>
          <b>{percent(c.uptime_24h)}</b> 24 h · <b>{percent(c.uptime_30d)}</b> 30 days
        </span>
        <span>today</span>
      </div>
    </li>
  );
}
