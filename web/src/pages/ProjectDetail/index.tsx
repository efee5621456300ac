// One project: its fields, a link to its canvas, and its files (artifacts panel).
import { Link, useParams } from 'react-router';
import { useQuery } from '@tanstack/react-query';
import { api, data } from '../../api/client';
import { Badge, ErrorMessage, Loading, timeAgo } from '../../app/ui';
import { ArtifactsPanel } from '../Artifacts';
import { StatusPagePanel } from '../Status';
import './detail.css';

const STATUS: Record<string, { label: string; tone?: 'ok' | 'warn' | 'bad' | 'info' }> = {
  planning: { label: 'Planning', tone: 'info' },
  active: { label: 'Active', tone: 'ok' },
  on_hold: { label: 'On hold', tone: 'warn' },
  completed: { label: 'Completed', tone: 'ok' },
  archived: { label: 'Archived' },
};

export default function ProjectDetailPage() {
  const { projectId = '' } = useParams();
  const q = useQuery({
    queryKey: ['projects', 'one', projectId],
    queryFn: () => data(api.GET('/api/v1/projects/{project_id}', { params: { path: { project_id: projectId } } })),
  });
  if (q.isPending) return <Loading label="Loading the project…" />;
  if (q.isError) {
    return (
      <section className="page">
        <p>
          <Link to="/projects">← Projects</Link>
        </p>
        <ErrorMessage error={q.error} onRetry={() => void q.refetch()} />
      </section>
    );
  }
  const p = q.data;
  const status = STATUS[p.status] ?? { label: p.status };
  const meta = Object.keys(p.metadata ?? {}).length > 0 ? JSON.stringify(p.metadata, null, 2) : null;
  return (
    <section className="page pd-page" aria-labelledby="project-title">
      <nav className="pd-crumbs" aria-label="Breadcrumb">
        <Link to="/projects">Projects</Link> <span aria-hidden="true">/</span> <span>{p.name}</span>
      </nav>
      <div className="pd-title">
        <h1 id="project-title">{p.name}</h1>
        <Badge tone={status.tone}>{status.label}</Badge>
        <span className="pd-spacer" />
        <Link className="btn btn-primary" to={`/projects/${p.id}/canvas`}>
          Open canvas
        </Link>
      </div>
      <div className="panel">
        {p.description ? <p className="pd-desc">{p.description}</p> : <p className="muted pd-desc">No description.</p>}
        <dl className="pd-props">
          <dt>Created</dt>
          <dd>
            <time dateTime={p.created_at}>{new Date(p.created_at).toLocaleString()}</time>
          </dd>
          <dt>Updated</dt>
          <dd>
            <time dateTime={p.updated_at} title={new Date(p.updated_at).toLocaleString()}>
              {timeAgo(p.updated_at)}
            </time>
          </dd>
          <dt>Version</dt>
          <dd>{p.version}</dd>
          <dt>Id</dt>
          <dd className="pd-mono">{p.id}</dd>
        </dl>
        {meta && (
          <details className="pd-meta">
            <summary>Metadata</summary>
            <pre>{meta}</pre>
          </details>
        )}
      </div>
      <StatusPagePanel projectId={p.id} />
      <ArtifactsPanel projectId={p.id} />
    </section>
  );
}
