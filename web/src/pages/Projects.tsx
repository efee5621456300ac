// Projects: list with status filter, search and paging (all in the URL), create, edit and
// delete for editors; a stale edit (409 VERSION_CONFLICT) offers "reload" or "overwrite".
import { useEffect, useState, type FormEvent } from 'react';
import { Link, useSearchParams } from 'react-router';
import { keepPreviousData, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, ApiError, data } from '../api/client';
import type { components } from '../api/schema';
import { useSession } from '../app/session';
import { Badge, Button, ConfirmAction, Dialog, Empty, ErrorMessage, Loading, Options, timeAgo, useConfirm, useNotify } from '../app/ui';
import { STATUSES } from './Dashboard';
import './projects.css';

type Project = components['schemas']['ProjectResponse'];
type Status = components['schemas']['ProjectStatusSchema'];
const PAGE = 20;

const statusTone = (s: Status) =>
  s === 'active' ? 'info' : s === 'completed' ? 'ok' : s === 'on_hold' ? 'warn' : undefined;
const statusLabel = (s: Status) => STATUSES.find((x) => x.value === s)?.label ?? s;

export default function ProjectsPage({ readOnly = false }: { readOnly?: boolean }) {
  const { canEdit: mayEdit } = useSession();
  const canEdit = mayEdit && !readOnly;
  const [sp, setSp] = useSearchParams();
  const status = (sp.get('status') ?? '') as Status | '';
  const search = sp.get('q') ?? '';
  const page = Math.max(1, Number(sp.get('page')) || 1);
  const [draft, setDraft] = useState(search);
  // `?new=1` (the dashboard's "Create a project") opens the form at once.
  const [editing, setEditing] = useState<Project | 'new' | null>(() => (canEdit && sp.get('new') === '1' ? 'new' : null));
  const [confirm, confirmDialog] = useConfirm();
  const notify = useNotify();
  const qc = useQueryClient();

  // From the current address, not this render's: a debounced search must not undo a filter
  // chosen meanwhile (react-router's functional update sees the render's params too).
  const set = (changes: Record<string, string | null>) => {
    const next = new URLSearchParams(window.location.search);
    for (const [k, v] of Object.entries(changes)) {
      if (v) next.set(k, v);
      else next.delete(k);
    }
    setSp(next, { replace: true });
  };

  // Search as you type, a moment after the last key.
  useEffect(() => {
    if (draft === search) return;
    const t = setTimeout(() => set({ q: draft.trim() || null, page: null }), 300);
    return () => clearTimeout(t);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [draft]);

  const q = useQuery({
    queryKey: ['projects', 'list', { status, search, page }],
    queryFn: () =>
      data(
        api.GET('/api/v1/projects', {
          params: {
            query: {
              ...(status ? { status } : {}),
              ...(search ? { search } : {}),
              limit: PAGE,
              offset: (page - 1) * PAGE,
            },
          },
        }),
      ),
    placeholderData: keepPreviousData,
  });
  const pages = q.data ? Math.max(1, Math.ceil(q.data.total / PAGE)) : 1;

  async function remove(p: Project) {
    try {
      await api.DELETE('/api/v1/projects/{project_id}', { params: { path: { project_id: p.id } } });
      notify(`Deleted “${p.name}”`, 'ok');
    } catch (e) {
      notify(e instanceof ApiError ? e.detail : String(e), 'error');
    }
    await qc.invalidateQueries({ queryKey: ['projects'] });
  }

  return (
    <section className="page projects" aria-labelledby="projects-title">
      <div className="page-head">
        <h1 id="projects-title">Projects</h1>
        {canEdit && (
          <Button variant="primary" onClick={() => setEditing('new')}>
            New project
          </Button>
        )}
      </div>
      <div className="toolbar" role="search">
        <label>
          Search
          <input type="search" value={draft} placeholder="Name or description" onChange={(e) => setDraft(e.target.value)} />
        </label>
        <label>
          Status
          <select value={status} onChange={(e) => set({ status: e.target.value || null, page: null })}>
            <option value="">All</option>
            <Options items={STATUSES} />
          </select>
        </label>
      </div>
      {q.isPending ? (
        <Loading />
      ) : q.error ? (
        <ErrorMessage error={q.error} onRetry={() => void q.refetch()} />
      ) : q.data.projects.length === 0 ? (
        <Empty>
          {search || status ? 'No project matches.' : canEdit ? 'No projects yet: create the first one.' : 'No projects yet.'}
        </Empty>
      ) : (
        <>
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Status</th>
                <th scope="col">Updated</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {q.data.projects.map((p) => (
                <tr key={p.id}>
                  <td>
                    <div className="project-name"><Link to={`/projects/${p.id}`}>{p.name}</Link></div>
                    {p.description && <div className="muted project-desc">{p.description}</div>}
                  </td>
                  <td>
                    <Badge tone={statusTone(p.status)}>{statusLabel(p.status)}</Badge>
                  </td>
                  <td>
                    <time dateTime={p.updated_at} title={new Date(p.updated_at).toLocaleString()}>
                      {timeAgo(p.updated_at)}
                    </time>
                  </td>
                  <td>
                    <div className="row-actions">
                    <Link className="btn btn-secondary" to={`/projects/${p.id}/canvas`} aria-label={`Open canvas of ${p.name}`}>
                      Canvas
                    </Link>
                    {canEdit && (
                      <>
                        <Button onClick={() => setEditing(p)} aria-label={`Edit ${p.name}`}>
                          Edit
                        </Button>
                        <ConfirmAction
                          variant="ghost"
                          confirm={confirm}
                          question={{
                            title: `Delete “${p.name}”?`,
                            message: 'Its components, tasks and dependencies are deleted with it. This cannot be undone.',
                            confirmLabel: 'Delete project',
                            danger: true,
                          }}
                          onConfirm={() => void remove(p)}
                          aria-label={`Delete ${p.name}`}
                        >
                          Delete
                        </ConfirmAction>
                      </>
                    )}
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <nav className="pager" aria-label="Pages">
            <Button disabled={page <= 1} onClick={() => set({ page: page - 1 > 1 ? String(page - 1) : null })}>
              Previous
            </Button>
            <span>
              Page {page} of {pages} · {q.data.total} project{q.data.total === 1 ? '' : 's'}
            </span>
            <Button disabled={page >= pages} onClick={() => set({ page: String(page + 1) })}>
              Next
            </Button>
          </nav>
        </>
      )}
      {editing && (
        <ProjectForm
          project={editing === 'new' ? null : editing}
          onClose={() => {
            setEditing(null);
            if (new URLSearchParams(window.location.search).has('new')) set({ new: null });
          }}
        />
      )}
      {confirmDialog}
    </section>
  );
}

function ProjectForm({ project, onClose }: { project: Project | null; onClose: () => void }) {
  const qc = useQueryClient();
  const notify = useNotify();
  const [name, setName] = useState(project?.name ?? '');
  const [description, setDescription] = useState(project?.description ?? '');
  const [status, setStatus] = useState<Status>(project?.status ?? 'planning');
  const [version, setVersion] = useState(project?.version ?? 0);
  const [error, setError] = useState<unknown>(null);
  const [conflict, setConflict] = useState<Project | null>(null);
  const [busy, setBusy] = useState(false);

  async function save(atVersion = version) {
    setBusy(true);
    setError(null);
    try {
      const body = { name: name.trim(), description: description.trim() || null, status };
      if (project) {
        await data(
          api.PUT('/api/v1/projects/{project_id}', {
            params: { path: { project_id: project.id } },
            body: { ...body, version: atVersion },
          }),
        );
        notify(`Saved “${body.name}”`, 'ok');
      } else {
        await data(api.POST('/api/v1/projects', { body }));
        notify(`Created “${body.name}”`, 'ok');
      }
      await qc.invalidateQueries({ queryKey: ['projects'] });
      onClose();
    } catch (e) {
      if (project && e instanceof ApiError && e.code === 'VERSION_CONFLICT') {
        try {
          setConflict(
            await data(api.GET('/api/v1/projects/{project_id}', { params: { path: { project_id: project.id } } })),
          );
        } catch (again) {
          setError(again);
        }
      } else setError(e);
    } finally {
      setBusy(false);
    }
  }

  function submit(e: FormEvent) {
    e.preventDefault();
    void save();
  }

  return (
    <Dialog
      open
      title={project ? `Edit “${project.name}”` : 'New project'}
      onClose={onClose}
    >
      <form className="form" onSubmit={submit} aria-label={project ? 'Edit project' : 'New project'}>
        <label>
          Name
          <input required maxLength={255} value={name} onChange={(e) => setName(e.target.value)} autoFocus />
        </label>
        <label>
          Description
          <textarea maxLength={1000} rows={3} value={description} onChange={(e) => setDescription(e.target.value)} />
        </label>
        <label>
          Status
          <select value={status} onChange={(e) => setStatus(e.target.value as Status)}>
            <Options items={STATUSES} />
          </select>
        </label>
        {conflict && (
          <div className="conflict" role="alert">
            <p>
              <strong>Changed elsewhere.</strong> Someone saved this project (now “{conflict.name}”,{' '}
              {statusLabel(conflict.status)}) after you opened it.
            </p>
            <div className="dialog-actions">
              <Button
                onClick={() => {
                  setName(conflict.name);
                  setDescription(conflict.description ?? '');
                  setStatus(conflict.status);
                  setVersion(conflict.version);
                  setConflict(null);
                }}
              >
                Reload their version
              </Button>
              <Button
                variant="danger"
                busy={busy}
                onClick={() => {
                  const v = conflict.version;
                  setVersion(v);
                  setConflict(null);
                  void save(v);
                }}
              >
                Overwrite with mine
              </Button>
            </div>
          </div>
        )}
        <ErrorMessage error={error} />
        <div className="dialog-actions">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" busy={busy} disabled={conflict !== null}>
            {project ? 'Save' : 'Create'}
          </Button>
        </div>
      </form>
    </Dialog>
  );
}
