// The side panel of the selected component: its fields (edited against the version read, with
// "changed elsewhere — reload or overwrite" on 409), what it depends on (add and remove without
// dragging a handle: the way on a phone and from the keyboard) and its tasks (create, rename,
// complete, delete). Viewers see the same information without edit controls. On a phone it is a
// bottom sheet over the canvas.
import { memo, useEffect, useState, type FormEvent } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { ApiError } from '../api/client';
import { componentProgress, PROGRESS_HELP, progressSource, type Progress } from '../app/progress';
import { Button, ErrorMessage, Loading, Tip, useConfirm } from '../app/ui';
import { canvasApi, graphKey, tasksKey } from './api';
import { STATUS_LABEL } from './ComponentNode';
import { COMPONENT_STATUSES, TASK_STATUSES, upsertComponent, type Component, type Graph, type GraphNode, type Task } from './model';
import { ComponentIcon, iconLabel, ICON_NAMES, isArtifactIcon } from '../checks/icons';
import { PanelChecks } from '../checks/PanelChecks';
import type { ComponentFields } from './mutations';
import { errorText, useGraphMutations, useTaskMutation, type Report } from './useCanvasData';

interface Props {
  projectId: string;
  node: GraphNode;
  graph: Graph;
  canEdit: boolean;
  report: Report;
  onClose: () => void;
  onDeleted: () => void;
}

interface Form {
  name: string;
  type: string;
  status: GraphNode['status'];
  progress: number;
  url: string;
  host: string;
  icon: string;
  description: string;
}

const formOf = (n: Component | GraphNode): Form => ({
  name: n.name,
  type: n.type ?? '',
  status: n.status,
  progress: n.progress,
  url: n.url ?? '',
  host: n.host ?? '',
  icon: n.icon ?? '',
  description: n.description ?? '',
});

/** Memoized: a drag re-renders the canvas every frame, not this panel. */
export const SidePanel = memo(function SidePanel({ projectId, node, graph, canEdit, report, onClose, onDeleted }: Props) {
  const client = useQueryClient();
  const { update, remove } = useGraphMutations(projectId, report);
  const [confirm, confirmDialog] = useConfirm();
  const [form, setForm] = useState<Form>(() => formOf(node));
  const [base, setBase] = useState(node.version);
  const [dirty, setDirty] = useState(false);
  const [conflict, setConflict] = useState(false);

  // Follow changes from elsewhere while the user is not editing.
  useEffect(() => {
    if (!dirty) {
      setForm(formOf(node));
      setBase(node.version);
    }
  }, [node, dirty]);
  useEffect(() => {
    setDirty(false);
    setConflict(false);
  }, [node.id]);

  const change = <K extends keyof Form>(k: K, v: Form[K]) => {
    setForm((f) => ({ ...f, [k]: v }));
    setDirty(true);
  };

  const save = async (overwrite: boolean) => {
    const body: ComponentFields = {
      name: form.name.trim(),
      type: form.type.trim() || undefined,
      status: form.status,
      progress: Math.max(0, Math.min(100, Math.round(form.progress))),
      // An empty value clears the field.
      url: form.url.trim(),
      host: form.host.trim(),
      icon: form.icon,
      description: form.description.trim(),
    };
    try {
      await update.mutateAsync({ id: node.id, body, version: overwrite ? undefined : base });
      setDirty(false);
      setConflict(false);
      report(`Saved ${body.name}.`);
    } catch (e) {
      if (e instanceof ApiError && e.code === 'VERSION_CONFLICT') setConflict(true);
    }
  };

  const reload = async () => {
    try {
      const fresh = await canvasApi.getComponent(node.id);
      client.setQueryData<Graph>(graphKey(projectId), (g) => (g ? upsertComponent(g, fresh) : g));
      setForm(formOf(fresh));
      setBase(fresh.version);
      setDirty(false);
      setConflict(false);
    } catch (e) {
      report(`Could not reload: ${errorText(e)}`, 'error');
    }
  };

  const del = async () => {
    const ok = await confirm({
      title: `Delete ${node.name}?`,
      message: 'The component, its tasks and its dependencies are deleted. This cannot be undone.',
      confirmLabel: 'Delete component',
      danger: true,
    });
    if (!ok) return;
    onDeleted();
    remove.mutate({ id: node.id }, { onSuccess: () => report(`Deleted ${node.name}.`) });
  };

  const progress = componentProgress(node);

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    void save(false);
  };

  return (
    <aside className="cv-panel" aria-label={`Component ${node.name}`}>
      <div className="cv-panel-head">
        <h2>
          <ComponentIcon icon={node.icon} size={22} className="cv-node-icon" /> {node.name}
        </h2>
        <Button variant="ghost" onClick={onClose} aria-label="Close panel">
          ✕
        </Button>
      </div>
      {canEdit ? (
        <form className="cv-form" onSubmit={onSubmit}>
          <label>
            Name
            <input value={form.name} required maxLength={255} onChange={(e) => change('name', e.target.value)} />
          </label>
          <label>
            Type
            <input value={form.type} maxLength={100} placeholder="service, database…" onChange={(e) => change('type', e.target.value)} />
          </label>
          <div className="cv-form-row">
            <label>
              Status
              <select value={form.status} onChange={(e) => change('status', e.target.value as Form['status'])}>
                {COMPONENT_STATUSES.map((s) => (
                  <option key={s} value={s}>
                    {STATUS_LABEL[s]}
                  </option>
                ))}
              </select>
            </label>
            {progress.source === 'tasks' ? (
              <div className="cv-derived">
                <span>Progress</span>
                <strong data-testid="panel-progress">{progress.percent}%</strong>
              </div>
            ) : (
              <label>
                Progress % (by hand)
                <input
                  type="number"
                  min={0}
                  max={100}
                  value={form.progress}
                  onChange={(e) => change('progress', Number(e.target.value))}
                />
              </label>
            )}
          </div>
          <ProgressNote progress={progress} />
          <label>
            Address (opens the service)
            <input type="url" value={form.url} maxLength={2048} placeholder="https://nas.lan:5001" onChange={(e) => change('url', e.target.value)} />
          </label>
          <div className="cv-form-row">
            <label>
              Host
              <input value={form.host} maxLength={253} placeholder="nas.lan or 192.168.1.10" onChange={(e) => change('host', e.target.value)} />
            </label>
            <label>
              Icon
              <span className="cv-icon-pick">
                <ComponentIcon icon={form.icon} size={20} />
                <select value={form.icon} onChange={(e) => change('icon', e.target.value)}>
                  <option value="">None</option>
                  {form.icon && isArtifactIcon(form.icon) && <option value={form.icon}>Uploaded image</option>}
                  {ICON_NAMES.map((n) => (
                    <option key={n} value={n}>
                      {iconLabel(n)}
                    </option>
                  ))}
                </select>
              </span>
            </label>
          </div>
          <label>
            Description
            <textarea value={form.description} maxLength={1000} rows={2} onChange={(e) => change('description', e.target.value)} />
          </label>
          {conflict && (
            <div className="cv-conflict" role="alert">
              <span>This component was changed elsewhere — reload or overwrite.</span>
              <Button onClick={() => void reload()}>Reload</Button>
              <Button variant="danger" onClick={() => void save(true)}>
                Overwrite
              </Button>
            </div>
          )}
          <div className="cv-form-actions">
            <Button type="submit" variant="primary" busy={update.isPending} disabled={!dirty || !form.name.trim()}>
              Save
            </Button>
            <Button variant="danger" onClick={() => void del()}>
              Delete component
            </Button>
          </div>
        </form>
      ) : (
        <dl className="cv-fields">
          <dt>Type</dt>
          <dd>{node.type || '—'}</dd>
          <dt>Status</dt>
          <dd>{STATUS_LABEL[node.status]}</dd>
          <dt>Progress</dt>
          <dd data-testid="panel-progress">{progress.percent}%</dd>
          {node.url && (
            <>
              <dt>Address</dt>
              <dd>
                <a href={node.url} target="_blank" rel="noopener noreferrer">
                  {node.url}
                </a>
              </dd>
            </>
          )}
          {node.host && (
            <>
              <dt>Host</dt>
              <dd>{node.host}</dd>
            </>
          )}
          {node.description && (
            <>
              <dt>About</dt>
              <dd>{node.description}</dd>
            </>
          )}
        </dl>
      )}
      {!canEdit && <ProgressNote progress={progress} />}
      <PanelChecks projectId={projectId} componentId={node.id} componentName={node.name} />
      <DependsOn projectId={projectId} node={node} graph={graph} canEdit={canEdit} report={report} confirm={confirm} />
      <Tasks projectId={projectId} componentId={node.id} canEdit={canEdit} report={report} confirm={confirm} />
      {confirmDialog}
    </aside>
  );
});

/** Where the progress shown comes from, with the definition in a tooltip. */
function ProgressNote({ progress }: { progress: Progress }) {
  return (
    <p className="cv-progress-note" data-testid="progress-source">
      <span>
        {progress.source === 'tasks'
          ? `From tasks: ${progressSource(progress)}.`
          : 'Set by hand: this component has no tasks.'}
      </span>
      <Tip label="How progress is computed">{PROGRESS_HELP}</Tip>
    </p>
  );
}

type Confirm = ReturnType<typeof useConfirm>[0];

/** What this component depends on: listed, and for editors added and removed from here. */
function DependsOn({
  projectId, node, graph, canEdit, report, confirm,
}: { projectId: string; node: GraphNode; graph: Graph; canEdit: boolean; report: Report; confirm: Confirm }) {
  const { link, unlink } = useGraphMutations(projectId, report);
  const [choice, setChoice] = useState('');
  const name = (id: string) => graph.components.find((c) => c.id === id)?.name ?? 'component';
  const deps = graph.dependencies.filter((d) => d.component_id === node.id);
  const candidates = graph.components
    .filter((c) => c.id !== node.id && !deps.some((d) => d.depends_on_id === c.id))
    .sort((a, b) => a.name.localeCompare(b.name));
  const add = (e: FormEvent) => {
    e.preventDefault();
    if (!choice) return;
    link.mutate(
      { componentId: node.id, dependsOnId: choice },
      { onSuccess: () => report(`${node.name} now depends on ${name(choice)}.`) },
    );
    setChoice('');
  };
  return (
    <section className="cv-deps" aria-labelledby="cv-deps-title">
      <h3 id="cv-deps-title">Depends on</h3>
      {deps.length === 0 ? (
        <p className="empty">Nothing.</p>
      ) : (
        <ul className="cv-dep-list">
          {deps.map((d) => (
            <li key={d.depends_on_id}>
              <span>{name(d.depends_on_id)}</span>
              {canEdit && (
                <Button
                  variant="ghost"
                  aria-label={`Remove: ${node.name} depends on ${name(d.depends_on_id)}`}
                  onClick={async () => {
                    const ok = await confirm({
                      title: 'Remove dependency?',
                      message: `${node.name} will no longer depend on ${name(d.depends_on_id)}.`,
                      confirmLabel: 'Remove',
                      danger: true,
                    });
                    if (ok) unlink.mutate({ componentId: node.id, dependsOnId: d.depends_on_id }, { onSuccess: () => report('Dependency removed.') });
                  }}
                >
                  ✕
                </Button>
              )}
            </li>
          ))}
        </ul>
      )}
      {canEdit && candidates.length > 0 && (
        <form className="cv-dep-add" onSubmit={add}>
          <label className="cv-sr" htmlFor="cv-dep-choice">
            Add a dependency of {node.name}
          </label>
          <select id="cv-dep-choice" value={choice} onChange={(e) => setChoice(e.target.value)}>
            <option value="">Choose a component…</option>
            {candidates.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
          </select>
          <Button type="submit" disabled={!choice}>
            Connect
          </Button>
        </form>
      )}
    </section>
  );
}

function Tasks({
  projectId, componentId, canEdit, report, confirm,
}: { projectId: string; componentId: string; canEdit: boolean; report: Report; confirm: Confirm }) {
  const tasks = useQuery({ queryKey: tasksKey(componentId), queryFn: () => canvasApi.tasks(componentId) });
  const m = useTaskMutation(projectId, report);
  const [name, setName] = useState('');

  const add = async (e: FormEvent) => {
    e.preventDefault();
    const n = name.trim();
    if (!n) return;
    try {
      await m.mutate({ op: 'create', componentId, name: n });
      setName('');
    } catch {
      // Reported by the mutation.
    }
  };

  return (
    <section className="cv-tasks-section" aria-labelledby="cv-tasks-title">
      <h3 id="cv-tasks-title">Tasks</h3>
      {canEdit && (
        <form className="cv-task-add" onSubmit={(e) => void add(e)}>
          <label className="cv-sr" htmlFor="cv-new-task">
            New task
          </label>
          <input id="cv-new-task" placeholder="New task" value={name} maxLength={255} onChange={(e) => setName(e.target.value)} />
          <Button type="submit" variant="primary" disabled={!name.trim()}>
            Add task
          </Button>
        </form>
      )}
      {tasks.isPending ? (
        <Loading label="Loading tasks…" />
      ) : tasks.isError ? (
        <ErrorMessage error={tasks.error} onRetry={() => void tasks.refetch()} />
      ) : tasks.data.length === 0 ? (
        <p className="empty">No tasks yet.</p>
      ) : (
        <ul className="cv-task-list">
          {tasks.data.map((t) => (
            <TaskRow key={t.id} task={t} canEdit={canEdit} m={m} componentId={componentId} confirm={confirm} />
          ))}
        </ul>
      )}
    </section>
  );
}

function TaskRow({
  task, canEdit, m, componentId, confirm,
}: { task: Task; canEdit: boolean; m: ReturnType<typeof useTaskMutation>; componentId: string; confirm: Confirm }) {
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(task.name);
  const done = task.status === 'done';
  const quiet = (p: Promise<unknown>) => p.catch(() => undefined);

  if (!canEdit) {
    return (
      <li className={`cv-task${done ? ' cv-task-done' : ''}`}>
        <span>{task.name}</span>
        <span className="cv-task-status">{task.status.replace('_', ' ')}</span>
      </li>
    );
  }
  return (
    <li className={`cv-task${done ? ' cv-task-done' : ''}`}>
      <input
        type="checkbox"
        checked={done}
        aria-label={`${done ? 'Reopen' : 'Complete'} ${task.name}`}
        onChange={() => void quiet(m.mutate({ op: 'update', componentId, task, patch: { status: done ? 'todo' : 'done' } }))}
      />
      {editing ? (
        <form
          className="cv-task-edit"
          onSubmit={(e) => {
            e.preventDefault();
            setEditing(false);
            if (name.trim() && name.trim() !== task.name) {
              void quiet(m.mutate({ op: 'update', componentId, task, patch: { name: name.trim() } }));
            }
          }}
        >
          <input aria-label="Task name" value={name} autoFocus maxLength={255} onChange={(e) => setName(e.target.value)} />
          <Button type="submit">Save</Button>
        </form>
      ) : (
        <span className="cv-task-name">{task.name}</span>
      )}
      <select
        aria-label={`Status of ${task.name}`}
        value={task.status}
        onChange={(e) => void quiet(m.mutate({ op: 'update', componentId, task, patch: { status: e.target.value as Task['status'] } }))}
      >
        {TASK_STATUSES.map((s) => (
          <option key={s} value={s}>
            {s.replace('_', ' ')}
          </option>
        ))}
      </select>
      {!editing && (
        <Button variant="ghost" aria-label={`Rename ${task.name}`} onClick={() => { setName(task.name); setEditing(true); }}>
          ✎
        </Button>
      )}
      <Button
        variant="ghost"
        aria-label={`Delete ${task.name}`}
        onClick={async () => {
          if (await confirm({ title: `Delete task ${task.name}?`, confirmLabel: 'Delete task', danger: true })) {
            void quiet(m.mutate({ op: 'delete', componentId, task }));
          }
        }}
      >
        ✕
      </Button>
    </li>
  );
}
