// A component's page (`/projects/:projectId/components/:componentId`): what it is (icon, link,
// host, description), its state now (with impact: a dependency that is down), its checks —
// for editors with the editor (add, edit, pause, delete, test now, a new push URL) — and each
// check's history (uptime, latency chart, outages). Live: check events refetch what they touch.
import { useEffect, useRef, useState } from 'react';
import { Link, useParams } from 'react-router';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useLiveEvents, useResync } from '../../app/live';
import { useSession } from '../../app/session';
import { Button, Empty, ErrorMessage, Loading, timeAgo, useConfirm } from '../../app/ui';
import { canvasApi, graphKey, projectKey } from '../../canvas/api';
import { checksApi, componentChecksKey, useProjectChecks, type Check, type CheckCreated } from '../../checks/api';
import { ComponentIcon } from '../../checks/icons';
import { asState, certText, daysUntil, formatLatency, healthOf, HEALTH_LABEL } from '../../checks/status';
import { CheckEditor, TestResult } from './CheckEditor';
import { CheckHistory } from './CheckHistory';
import { KINDS, targetText } from './form';
import '../../checks/checks.css';
import './checks-page.css';

const kindLabel = (k: string) => KINDS.find((x) => x.value === k)?.label ?? k;

export default function ComponentChecksPage() {
  const { projectId = '', componentId = '' } = useParams();
  const { canEdit } = useSession();
  const client = useQueryClient();
  const component = useQuery({ queryKey: ['component', componentId], queryFn: () => canvasApi.getComponent(componentId) });
  const project = useQuery({ queryKey: projectKey(projectId), queryFn: () => canvasApi.project(projectId) });
  const graph = useQuery({ queryKey: graphKey(projectId), queryFn: () => canvasApi.graph(projectId) });
  const summary = useProjectChecks(projectId);
  const checks = useQuery({ queryKey: componentChecksKey(componentId), queryFn: () => checksApi.list(componentId) });
  const [editing, setEditing] = useState<'new' | string | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [pushPath, setPushPath] = useState<{ check: string; path: string } | null>(null);

  // Any event about this component's checks refetches the list (at most every 300 ms).
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => () => void (timer.current && clearTimeout(timer.current)), []);
  useLiveEvents('tracker/events/checks/#', (e) => {
    const p = (e.payload ?? {}) as { component_id?: unknown };
    if (p.component_id !== componentId || timer.current) return;
    timer.current = setTimeout(() => {
      timer.current = null;
      void client.invalidateQueries({ queryKey: componentChecksKey(componentId) });
    }, 300);
  });
  useLiveEvents('tracker/events/components/#', (e) => {
    const p = (e.payload ?? {}) as { component_id?: unknown };
    if (p.component_id === componentId) void component.refetch();
    void graph.refetch();
  });
  useResync(() => {
    void client.invalidateQueries({ queryKey: componentChecksKey(componentId) });
    void component.refetch();
  });

  if (component.isPending) return <Loading label="Loading component…" />;
  if (component.isError) return <ErrorMessage error={component.error} onRetry={() => void component.refetch()} />;
  const c = component.data;
  const names = new Map((graph.data?.components ?? []).map((n) => [n.id, n.name]));
  const health = graph.data
    ? healthOf([c.id], graph.data.dependencies, summary.data, (id) => names.get(id) ?? 'component').get(c.id)
    : undefined;
  const list = checks.data ?? [];
  const shown = list.find((k) => k.id === selected) ?? list[0];

  const saved = (k: Check | CheckCreated) => {
    setEditing(null);
    setSelected(k.id);
    const path = (k as CheckCreated).push_path;
    if (path) setPushPath({ check: k.name, path });
    void client.invalidateQueries({ queryKey: componentChecksKey(componentId) });
    void client.invalidateQueries({ queryKey: ['checks', 'project', projectId] });
  };

  return (
    <section className="page ck-page" aria-labelledby="ck-title">
      <nav className="ck-crumbs" aria-label="Breadcrumb">
        <Link to="/projects">Projects</Link> <span aria-hidden="true">/</span>{' '}
        <Link to={`/projects/${projectId}/canvas`}>{project.data?.name ?? 'Project'}</Link>
      </nav>
      <header className="ck-head">
        <h1 id="ck-title">
          <ComponentIcon icon={c.icon} size={28} className="ck-head-icon" /> {c.name}
        </h1>
        {health && health.health !== 'none' && (
          <span className={`ck-state ck-head-state ck-${health.health}`} data-testid="component-health" data-health={health.health}>
            <span className="ck-dot" aria-hidden="true" />
            {HEALTH_LABEL[health.health]}
            {health.health === 'impacted' && <span className="ck-head-cause">: needs {health.causeNames.join(', ')}</span>}
          </span>
        )}
        {c.url && (
          <a className="btn btn-secondary" href={c.url} target="_blank" rel="noopener noreferrer" aria-label={`Open ${c.name} in a new tab`}>
            Open ↗
          </a>
        )}
      </header>
      <p className="muted ck-sub">
        {[c.type, c.host].filter(Boolean).join(' · ')}
        {c.description && <span className="ck-description"> — {c.description}</span>}
      </p>

      <section className="panel ck-section" aria-labelledby="ck-checks-title">
        <div className="ck-section-head">
          <h2 id="ck-checks-title">Checks</h2>
          {canEdit && editing !== 'new' && (
            <Button variant="primary" onClick={() => setEditing('new')}>
              Add check
            </Button>
          )}
        </div>
        {pushPath && <PushUrl name={pushPath.check} path={pushPath.path} onDone={() => setPushPath(null)} />}
        {canEdit && editing === 'new' && (
          <CheckEditor componentId={componentId} defaults={{ url: c.url, host: c.host }} onSaved={saved} onCancel={() => setEditing(null)} />
        )}
        {checks.isPending ? (
          <Loading label="Loading checks…" />
        ) : checks.isError ? (
          <ErrorMessage error={checks.error} onRetry={() => void checks.refetch()} />
        ) : list.length === 0 ? (
          <Empty>
            No checks yet.{canEdit ? ' Add one to know whether this is up: its state shows on the canvas and the dashboard, live.' : ''}
          </Empty>
        ) : (
          <ul className="ck-list" data-testid="check-list">
            {list.map((k) =>
              canEdit && editing === k.id ? (
                <li key={k.id} className="ck-card">
                  <CheckEditor componentId={componentId} check={k} onSaved={saved} onCancel={() => setEditing(null)} />
                </li>
              ) : (
                <CheckCard
                  key={k.id}
                  check={k}
                  canEdit={canEdit}
                  selected={shown?.id === k.id}
                  onSelect={() => setSelected(k.id)}
                  onEdit={() => setEditing(k.id)}
                  onPushPath={(path) => setPushPath({ check: k.name, path })}
                  onChanged={() => saved(k)}
                />
              ),
            )}
          </ul>
        )}
      </section>

      {shown && (
        <section className="panel ck-section" aria-labelledby="ck-history-title">
          <h2 id="ck-history-title">History: {shown.name}</h2>
          <CheckHistory check={shown} />
        </section>
      )}
    </section>
  );
}

function CheckCard({
  check: k, canEdit, selected, onSelect, onEdit, onPushPath, onChanged,
}: {
  check: Check;
  canEdit: boolean;
  selected: boolean;
  onSelect: () => void;
  onEdit: () => void;
  onPushPath: (path: string) => void;
  onChanged: () => void;
}) {
  const client = useQueryClient();
  const [confirm, confirmDialog] = useConfirm();
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [tested, setTested] = useState<Awaited<ReturnType<typeof checksApi.testSaved>> | null>(null);
  const s = asState(k.status);
  const latency = formatLatency(k.last_latency_ms);
  const run = async (what: string, fn: () => Promise<unknown>) => {
    setBusy(what);
    setError(null);
    try {
      await fn();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  };
  const certDays = k.cert_expires_at ? daysUntil(k.cert_expires_at) : null;
  return (
    <li className={`ck-card ck-${s}${selected ? ' ck-card-selected' : ''}`} data-testid="check-card" data-id={k.id} data-status={s}>
      <div className="ck-card-head">
        <span className="ck-state" data-testid="check-state">
          <span className="ck-dot" aria-hidden="true" />
          {HEALTH_LABEL[s]}
        </span>
        <strong className="ck-card-name">{k.name}</strong>
        <span className="muted small">{kindLabel(k.kind)}</span>
        {!k.drives_status && <span className="muted small">(does not count in the state)</span>}
      </div>
      <div className="ck-card-target">{targetText(k.kind, k.target as Record<string, unknown>)}</div>
      <div className="ck-card-meta muted small">
        <span>every {k.interval_secs} s</span>
        {k.retries > 0 && <span>{k.retries} retries</span>}
        {k.last_checked_at && <span>checked {timeAgo(k.last_checked_at)}</span>}
        {latency && s !== 'down' && <span>{latency}</span>}
        {certDays !== null && <span className={certDays <= 14 ? 'ck-cert-soon' : ''}>certificate {certText(certDays)}</span>}
      </div>
      {k.last_error && s !== 'up' && <div className="ck-card-error">{k.last_error}</div>}
      {tested && <TestResult outcome={tested} />}
      <ErrorMessage error={error} />
      <div className="ck-card-actions">
        <Button variant={selected ? 'secondary' : 'ghost'} onClick={onSelect} aria-pressed={selected}>
          History
        </Button>
        {canEdit && (
          <>
            <Button onClick={() => void run('test', async () => setTested(await checksApi.testSaved(k.id)))} busy={busy === 'test'}>
              Test now
            </Button>
            <Button onClick={onEdit}>Edit</Button>
            <Button
              onClick={() =>
                void run('pause', async () => {
                  await checksApi.update(k.id, { paused: !k.paused, version: k.version });
                  onChanged();
                })
              }
              busy={busy === 'pause'}
            >
              {k.paused ? 'Resume' : 'Pause'}
            </Button>
            {k.kind === 'push' && (
              <Button
                onClick={async () => {
                  const ok = await confirm({
                    title: 'New push URL?',
                    message: 'The current URL stops working at once; update the job that calls it.',
                    confirmLabel: 'New URL',
                  });
                  if (ok) void run('rotate', async () => onPushPath((await checksApi.rotatePushToken(k.id)).push_path));
                }}
              >
                New push URL
              </Button>
            )}
            <Button
              variant="danger"
              onClick={async () => {
                const ok = await confirm({
                  title: `Delete check ${k.name}?`,
                  message: 'The check and its history are deleted. This cannot be undone.',
                  confirmLabel: 'Delete check',
                  danger: true,
                });
                if (ok)
                  void run('delete', async () => {
                    await checksApi.remove(k.id);
                    void client.invalidateQueries({ queryKey: ['checks'] });
                  });
              }}
              busy={busy === 'delete'}
            >
              Delete
            </Button>
          </>
        )}
      </div>
      {confirmDialog}
    </li>
  );
}

/** A push check's URL, shown once (only its hash is stored). */
function PushUrl({ name, path, onDone }: { name: string; path: string; onDone: () => void }) {
  const url = `${window.location.origin}${path}`;
  const [copied, setCopied] = useState(false);
  return (
    <div className="ck-push" role="status" data-testid="push-url">
      <p>
        <strong>Push URL of {name}</strong> — shown only now; TaylorDash keeps only its hash. Call it from the job (GET or
        POST), e.g. <code>curl -fsS -X POST {url}</code>
      </p>
      <div className="ck-push-row">
        <input readOnly value={url} aria-label="Push URL" onFocus={(e) => e.currentTarget.select()} />
        <Button
          onClick={() => {
            void navigator.clipboard?.writeText(url).then(() => setCopied(true));
          }}
        >
          {copied ? 'Copied' : 'Copy'}
        </Button>
        <Button variant="ghost" onClick={onDone}>
          Done
        </Button>
      </div>
    </div>
  );
}
