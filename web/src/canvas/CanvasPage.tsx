// The project canvas (route `/projects/:projectId/canvas`): components as nodes, dependencies
// as edges, live. Editors drag (positions saved in batches), connect (a dependency; the server
// refuses cycles), add and delete; viewers get the same picture read-only.
import { useCallback, useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { Link, Navigate, useParams } from 'react-router';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import {
  Background, Controls, MiniMap, ReactFlow, ReactFlowProvider, applyNodeChanges, useNodesInitialized, useReactFlow,
  type Connection, type Edge, type EdgeChange, type NodeChange, type OnBeforeDelete, type OnSelectionChangeFunc,
} from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import './canvas.css';
import { useSession } from '../app/session';
import { useTheme } from '../app/theme';
import { Button, Dialog, Empty, ErrorMessage, Loading, useConfirm } from '../app/ui';
import { canvasApi, graphKey, projectKey } from './api';
import { ComponentNode } from './ComponentNode';
import { syncNodes, toEdges, type CanvasNode } from './flow';
import { freeSpot, placeUnpositioned } from './layout';
import { upsertComponent, type Graph, type Point } from './model';
import { SidePanel } from './SidePanel';
import { errorText, moveInCache, useGraph, useGraphMutations, useLayoutSaver } from './useCanvasData';

const nodeTypes = { component: ComponentNode };
const notSelf = (c: Connection | Edge) => c.source !== c.target;

export default function CanvasPage() {
  const { projectId } = useParams();
  if (!projectId) return <ProjectPicker />;
  return (
    <ReactFlowProvider>
      <Canvas key={projectId} projectId={projectId} />
    </ReactFlowProvider>
  );
}

/** Messages of the canvas (what happened, what failed), newest last, each for a few seconds. */
function useMessages() {
  const [messages, setMessages] = useState<{ id: number; text: string }[]>([]);
  const next = useRef(1);
  const report = useCallback((text: string) => {
    const id = next.current++;
    setMessages((m) => [...m.slice(-2), { id, text }]);
    setTimeout(() => setMessages((m) => m.filter((x) => x.id !== id)), 8000);
  }, []);
  return { messages, report };
}

function Canvas({ projectId }: { projectId: string }) {
  const session = useSession();
  const canEdit = session.canEdit;
  const client = useQueryClient();
  const { messages, report } = useMessages();
  const graph = useGraph(projectId);
  const project = useQuery({ queryKey: projectKey(projectId), queryFn: () => canvasApi.project(projectId) });
  const saver = useLayoutSaver(projectId, report);
  const { link, unlink, remove } = useGraphMutations(projectId, report);
  const [confirm, confirmDialog] = useConfirm();
  const flow = useReactFlow();
  const { theme } = useTheme();

  // Positions placed by the automatic layout, kept for the session so nodes do not jump.
  const auto = useRef(new Map<string, Point>());
  const [nodes, setNodes] = useState<CanvasNode[]>([]);
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const [selectedEdgeId, setSelectedEdgeId] = useState<string | null>(null);
  const [adding, setAdding] = useState(false);

  useEffect(() => {
    const g = graph.data;
    if (!g) return;
    const placed = placeUnpositioned(g, auto.current);
    for (const [id, p] of placed) auto.current.set(id, p);
    setNodes((prev) => syncNodes(prev, g, auto.current, canEdit));
  }, [graph.data, canEdit]);

  const plainEdges = useMemo(() => toEdges(graph.data?.dependencies ?? [], canEdit), [graph.data?.dependencies, canEdit]);
  // Edges are controlled: their selection lives here (one at a time).
  const edges = useMemo(
    () => (selectedEdgeId ? plainEdges.map((e) => (e.id === selectedEdgeId ? { ...e, selected: true } : e)) : plainEdges),
    [plainEdges, selectedEdgeId],
  );
  const selectedEdge = edges.find((e) => e.id === selectedEdgeId) ?? null;
  const onEdgesChange = useCallback((changes: EdgeChange[]) => {
    for (const c of changes) {
      if (c.type !== 'select') continue;
      if (c.selected) setSelectedEdgeId(c.id);
      else setSelectedEdgeId((cur) => (cur === c.id ? null : cur));
    }
  }, []);

  /** Saves moved nodes (a drag ended, or arrow keys moved the selection). */
  const persistMoves = useCallback(
    (moved: { id: string; position: Point }[]) => {
      const g = client.getQueryData<Graph>(graphKey(projectId));
      if (!g) return;
      const moves = new Map<string, Point>();
      for (const n of moved) {
        const c = g.components.find((x) => x.id === n.id);
        if (!c) continue;
        const was = c.position ?? auto.current.get(c.id);
        if (was && was.x === n.position.x && was.y === n.position.y) continue;
        moves.set(n.id, n.position);
        saver.queue(n.id, n.position, c.position ?? null);
      }
      if (moves.size === 0) return;
      // The first save of an auto-arranged canvas saves the whole arrangement, so the other
      // nodes stay where the user saw them.
      for (const c of g.components) {
        const p = auto.current.get(c.id);
        if (!c.position && p && !moves.has(c.id)) {
          moves.set(c.id, p);
          saver.queue(c.id, p, null);
        }
      }
      moveInCache(client, projectId, moves);
    },
    [client, projectId, saver],
  );

  const onNodesChange = useCallback(
    (changes: NodeChange<CanvasNode>[]) => {
      // Removal goes through the API (onBeforeDelete); everything else is local view state.
      const local = changes.filter((c) => c.type !== 'remove');
      if (local.length) setNodes((ns) => applyNodeChanges(local, ns));
      if (!canEdit) return;
      // `dragging: false` with a position: the end of a drag, or a move by the arrow keys.
      const moved: { id: string; position: Point }[] = [];
      for (const c of changes) {
        if (c.type === 'position' && c.dragging === false && c.position) moved.push({ id: c.id, position: c.position });
      }
      if (moved.length) persistMoves(moved);
    },
    [canEdit, persistMoves],
  );

  const onConnect = useCallback(
    (c: Connection) => {
      if (!c.source || !c.target || c.source === c.target) return;
      // "target depends on source": the edge runs from the dependency to its dependent.
      link.mutate({ componentId: c.target, dependsOnId: c.source });
    },
    [link],
  );

  const nameOf = useCallback(
    (id: string) => graph.data?.components.find((n) => n.id === id)?.name ?? 'component',
    [graph.data],
  );

  const removeEdge = useCallback(
    async (e: Edge) => {
      const ok = await confirm({
        title: 'Remove dependency?',
        message: `${nameOf(e.target)} will no longer depend on ${nameOf(e.source)}.`,
        confirmLabel: 'Remove',
        danger: true,
      });
      if (!ok) return;
      setSelectedEdgeId(null);
      unlink.mutate({ componentId: e.target, dependsOnId: e.source }, { onSuccess: () => report('Dependency removed.') });
    },
    [confirm, nameOf, unlink, report],
  );

  const onBeforeDelete: OnBeforeDelete<CanvasNode, Edge> = useCallback(
    async ({ nodes: ns, edges: es }) => {
      if (!canEdit) return false;
      if (ns.length > 0) {
        const names = ns.map((n) => n.data.node.name).join(', ');
        const ok = await confirm({
          title: ns.length === 1 ? `Delete ${names}?` : `Delete ${ns.length} components?`,
          message: `${names}: the components, their tasks and dependencies are deleted. This cannot be undone.`,
          confirmLabel: 'Delete',
          danger: true,
        });
        if (ok) {
          for (const n of ns) remove.mutate({ id: n.id });
          if (selectedId && ns.some((n) => n.id === selectedId)) setSelectedId(null);
        }
      } else if (es.length === 1) {
        await removeEdge(es[0]!);
      } else if (es.length > 1) {
        if (await confirm({ title: `Remove ${es.length} dependencies?`, confirmLabel: 'Remove', danger: true })) {
          for (const e of es) unlink.mutate({ componentId: e.target, dependsOnId: e.source });
        }
      }
      // The API call (optimistic) changes the cache; React Flow must not delete on its own.
      return false;
    },
    [canEdit, confirm, remove, removeEdge, selectedId, unlink],
  );

  const onSelectionChange: OnSelectionChangeFunc<CanvasNode, Edge> = useCallback(({ nodes: ns }) => {
    if (ns.length === 1) setSelectedId(ns[0]!.id);
  }, []);

  // Time to interactive: nodes rendered and measured (read by the e2e budget check).
  const initialized = useNodesInitialized();
  const marked = useRef(false);
  useEffect(() => {
    if (marked.current || !graph.data) return;
    if (graph.data.components.length === 0 || (initialized && nodes.length > 0)) {
      marked.current = true;
      performance.mark('canvas-interactive');
      document.documentElement.dataset.canvasReady = 'true';
    }
  }, [initialized, nodes.length, graph.data]);

  const clearSelection = useCallback(() => setSelectedId(null), []);
  const selected = graph.data?.components.find((n) => n.id === selectedId) ?? null;

  if (graph.isPending) return <Loading label="Loading canvas…" />;
  if (graph.isError) {
    return (
      <div className="cv-page">
        <ErrorMessage error={graph.error} onRetry={() => void graph.refetch()} />
      </div>
    );
  }
  const count = graph.data.components.length;

  return (
    <div className="cv-page">
      <header className="cv-toolbar">
        <h1>
          <Link to="/projects">Projects</Link> <span aria-hidden="true">/</span> {project.data?.name ?? 'Project'}{' '}
          <span className="cv-sub">canvas</span>
        </h1>
        <span className="cv-count">
          {count} component{count === 1 ? '' : 's'} · {graph.data.dependencies.length} dependencies
        </span>
        {canEdit ? (
          <>
            {selectedEdge && (
              <Button variant="danger" onClick={() => void removeEdge(selectedEdge)}>
                Remove dependency
              </Button>
            )}
            <Button variant="primary" onClick={() => setAdding(true)}>
              Add component
            </Button>
          </>
        ) : (
          <span className="cv-readonly">Read-only</span>
        )}
      </header>
      {canEdit && count > 1 && (
        <p className="cv-hint">Drag from a component’s right handle to another component to make it depend on the first.</p>
      )}
      <div className="cv-messages" role="status" aria-live="polite">
        {messages.map((m) => (
          <div key={m.id} className="cv-message">
            {m.text}
          </div>
        ))}
      </div>
      <div className="cv-body">
        <div className="cv-flow" data-testid="canvas">
          {count === 0 && (
            <div className="cv-empty">
              <Empty>{canEdit ? 'No components yet — add the first one.' : 'No components in this project yet.'}</Empty>
            </div>
          )}
          <ReactFlow<CanvasNode, Edge>
            nodes={nodes}
            edges={edges}
            nodeTypes={nodeTypes}
            onNodesChange={onNodesChange}
            onEdgesChange={onEdgesChange}
            onConnect={onConnect}
            onBeforeDelete={onBeforeDelete}
            onSelectionChange={onSelectionChange}
            isValidConnection={notSelf}
            nodesDraggable={canEdit}
            nodesConnectable={canEdit}
            edgesFocusable
            deleteKeyCode={canEdit ? ['Delete', 'Backspace'] : null}
            fitView
            minZoom={0.05}
            maxZoom={2}
            colorMode={theme}
            proOptions={{ hideAttribution: true }}
          >
            <Background gap={24} />
            <MiniMap pannable zoomable ariaLabel="Canvas overview" nodeClassName={(n) => `cv-mini-${(n as CanvasNode).data.node.status}`} />
            <Controls showInteractive={false} />
          </ReactFlow>
        </div>
        {selected && (
          <SidePanel
            key={selected.id}
            projectId={projectId}
            node={selected}
            canEdit={canEdit}
            report={report}
            onClose={clearSelection}
            onDeleted={clearSelection}
          />
        )}
      </div>
      {adding && (
        <AddComponent
          projectId={projectId}
          onClose={() => setAdding(false)}
          onAdded={(id) => {
            setAdding(false);
            setSelectedId(id);
          }}
          near={() => {
            const el = document.querySelector('.cv-flow');
            const r = el?.getBoundingClientRect();
            return flow.screenToFlowPosition({ x: r ? r.left + r.width / 2 : 400, y: r ? r.top + r.height / 2 : 300 });
          }}
          taken={() => nodes.map((n) => n.position)}
          report={report}
        />
      )}
      {confirmDialog}
    </div>
  );
}

function AddComponent({
  projectId, onClose, onAdded, near, taken, report,
}: {
  projectId: string;
  onClose: () => void;
  onAdded: (id: string) => void;
  near: () => Point;
  taken: () => Point[];
  report: (t: string) => void;
}) {
  const client = useQueryClient();
  const [name, setName] = useState('');
  const [type, setType] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e?: FormEvent) => {
    e?.preventDefault();
    if (!name.trim()) return;
    setBusy(true);
    setError(null);
    try {
      const position = freeSpot(taken(), near());
      const c = await canvasApi.createComponent(projectId, { name: name.trim(), type: type.trim() || undefined, position });
      client.setQueryData<Graph>(graphKey(projectId), (g) => (g ? upsertComponent(g, c) : g));
      report(`Added ${c.name}.`);
      onAdded(c.id);
    } catch (err) {
      setError(err);
      report(`Component not added: ${errorText(err)}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog
      open
      title="Add component"
      onClose={onClose}
      actions={
        <>
          <Button onClick={onClose}>Cancel</Button>
          <Button variant="primary" busy={busy} disabled={!name.trim()} onClick={() => void submit()}>
            Add
          </Button>
        </>
      }
    >
      <form className="cv-form" onSubmit={(e) => void submit(e)}>
        <label>
          Name
          <input value={name} autoFocus required maxLength={255} onChange={(e) => setName(e.target.value)} />
        </label>
        <label>
          Type
          <input value={type} maxLength={100} placeholder="service, database…" onChange={(e) => setType(e.target.value)} />
        </label>
        <ErrorMessage error={error} />
      </form>
    </Dialog>
  );
}

/** `/canvas` without a project: choose one (the only one opens directly). */
function ProjectPicker() {
  const projects = useQuery({ queryKey: ['canvas', 'projects'], queryFn: canvasApi.projects });
  if (projects.isPending) return <Loading label="Loading projects…" />;
  if (projects.isError) return <ErrorMessage error={projects.error} onRetry={() => void projects.refetch()} />;
  if (projects.data.length === 1) return <Navigate replace to={`/projects/${projects.data[0]!.id}/canvas`} />;
  return (
    <div className="cv-picker">
      <h1>Canvas</h1>
      {projects.data.length === 0 ? (
        <Empty>
          No projects yet. <Link to="/projects">Create one</Link> to draw its components.
        </Empty>
      ) : (
        <>
          <p className="cv-hint">Choose the project to show:</p>
          <ul>
            {projects.data.map((p) => (
              <li key={p.id}>
                <Link to={`/projects/${p.id}/canvas`}>{p.name}</Link>
              </li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
}
