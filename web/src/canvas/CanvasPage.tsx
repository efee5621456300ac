// The project canvas (route `/projects/:projectId/canvas`): components as nodes, dependencies
// as edges with arrowheads, live. Editors drag (positions saved in batches), connect (a
// dependency, by a handle or from the side panel; the server refuses cycles, shown as an error),
// add (next to the last component, brought into view) and delete; viewers get the same picture
// read-only, without handles. A click (or Enter on a focused node) opens the side panel, a drag
// does not; from the keyboard Tab walks the nodes, Enter opens a node's panel (again: focus moves
// into it) and Escape goes back to the node. On a phone: a readable zoom, no minimap, the panel as a
// bottom sheet.
import { useCallback, useEffect, useId, useMemo, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import { Link, Navigate, useParams, useSearchParams } from 'react-router';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import {
  Background, Controls, MiniMap, ReactFlow, ReactFlowProvider, applyNodeChanges, useNodesInitialized, useReactFlow,
  type Connection, type Edge, type EdgeChange, type NodeChange, type NodeMouseHandler, type OnBeforeDelete,
} from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import './canvas.css';
import { useSession } from '../app/session';
import { useProjectChecks } from '../checks/api';
import { healthOf, keepSame, type ComponentHealth } from '../checks/status';
import { useTheme } from '../app/theme';
import { Button, Dialog, Empty, ErrorMessage, Loading, useConfirm, useMedia } from '../app/ui';
import { canvasApi, graphKey, projectKey } from './api';
import { ComponentNode } from './ComponentNode';
import { syncNodes, toEdges, type CanvasNode } from './flow';
import { freeSpot, NODE_HEIGHT, NODE_WIDTH, placeUnpositioned, wantedSpot } from './layout';
import { upsertComponent, type Graph, type Point } from './model';
import { SidePanel } from './SidePanel';
import { moveInCache, useGraph, useGraphMutations, useLayoutSaver, type Report } from './useCanvasData';

const nodeTypes = { component: ComponentNode };
/** The minimap shows what the checks say where there are checks, else the work status. */
const miniClass = (n: CanvasNode) => {
  const h = n.data.health?.health;
  return h && h !== 'none' ? `cv-mini-h-${h}` : `cv-mini-${n.data.node.status}`;
};
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

/** The narrowest screens (phones): no minimap, a readable zoom, the panel as a bottom sheet. */
export const PHONE = '(max-width: 760px)';

/**
 * Messages of the canvas (what happened, what failed), newest last, each for a few seconds; they
 * float over the canvas and never push it down. Errors (a refused cycle, a failed save) look it.
 */
function useMessages() {
  const [messages, setMessages] = useState<{ id: number; text: string; tone: 'info' | 'error' }[]>([]);
  const next = useRef(1);
  const report: Report = useCallback((text, tone = 'info') => {
    const id = next.current++;
    setMessages((m) => [...m.slice(-2), { id, text, tone }]);
    setTimeout(() => setMessages((m) => m.filter((x) => x.id !== id)), tone === 'error' ? 10_000 : 6000);
  }, []);
  return { messages, report };
}

function Canvas({ projectId }: { projectId: string }) {
  const session = useSession();
  const canEdit = session.canEdit;
  const client = useQueryClient();
  const { messages, report } = useMessages();
  const graph = useGraph(projectId);
  const checks = useProjectChecks(projectId);
  const project = useQuery({ queryKey: projectKey(projectId), queryFn: () => canvasApi.project(projectId) });
  const saver = useLayoutSaver(projectId, report);
  const { link, unlink, remove } = useGraphMutations(projectId, report);
  const [confirm, confirmDialog] = useConfirm();
  const flow = useReactFlow();
  const { theme } = useTheme();
  const phone = useMedia(PHONE);
  // The component added last in this session: the next one goes right of it.
  const lastAdded = useRef<string | null>(null);

  // Positions placed by the automatic layout, kept for the session so nodes do not jump.
  const auto = useRef(new Map<string, Point>());
  const [nodes, setNodes] = useState<CanvasNode[]>([]);
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const [selectedEdgeId, setSelectedEdgeId] = useState<string | null>(null);
  // `?add=1` (the dashboard's "Add components") opens the form at once; the address then drops it.
  const [params, setParams] = useSearchParams();
  const [adding, setAdding] = useState(() => canEdit && params.get('add') === '1');
  useEffect(() => {
    if (params.has('add')) setParams({}, { replace: true });
  }, [params, setParams]);

  const names = useMemo(() => new Map((graph.data?.components ?? []).map((c) => [c.id, c.name])), [graph.data?.components]);
  // What the checks say of each component (with impact through the dependencies); an object
  // that did not change is kept, so its node does not re-render.
  const healthRef = useRef(new Map<string, ComponentHealth>());
  const health = useMemo(() => {
    const g = graph.data;
    if (!g) return healthRef.current;
    const fresh = healthOf(g.components.map((c) => c.id), g.dependencies, checks.data, (id) => names.get(id) ?? 'component');
    const next = new Map<string, ComponentHealth>();
    for (const [id, h] of fresh) next.set(id, keepSame(healthRef.current.get(id), h));
    healthRef.current = next;
    return next;
  }, [graph.data, checks.data, names]);

  useEffect(() => {
    const g = graph.data;
    if (!g) return;
    const placed = placeUnpositioned(g, auto.current);
    for (const [id, p] of placed) auto.current.set(id, p);
    setNodes((prev) => syncNodes(prev, g, auto.current, canEdit, health));
  }, [graph.data, canEdit, health]);
  const plainEdges = useMemo(
    () => toEdges(graph.data?.dependencies ?? [], canEdit, (id) => names.get(id) ?? 'component'),
    [graph.data?.dependencies, canEdit, names],
  );
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

  // A click opens the panel; a drag (which also selects the node) does not.
  const onNodeClick: NodeMouseHandler<CanvasNode> = useCallback((_e, n) => setSelectedId(n.id), []);
  // From the keyboard: Tab moves between nodes; Enter (or Space) on a focused node opens its
  // panel, focus staying on the node (the arrow keys move it); Enter again moves focus into the
  // panel; Escape in the panel (or on the node) closes it, focus back on the node.
  const panelSlot = useRef<HTMLDivElement>(null);
  const onFlowKeyDown = useCallback(
    (e: KeyboardEvent) => {
      const el = (e.target as HTMLElement).closest?.('.react-flow__node');
      const id = el?.getAttribute('data-id');
      if (!id || el !== e.target) return;
      if (e.key === 'Enter' || e.key === ' ') {
        if (id !== selectedId) setSelectedId(id);
        else {
          const panel = panelSlot.current?.querySelector<HTMLElement>('.cv-panel');
          if (panel) {
            panel.tabIndex = -1;
            panel.focus();
          }
        }
      } else if (e.key === 'Escape') setSelectedId(null);
    },
    [selectedId],
  );
  const onPanelKeyDown = useCallback((e: KeyboardEvent) => {
    // A dialog opened from the panel handles its own Escape.
    if (e.key !== 'Escape' || e.defaultPrevented || (e.target as HTMLElement).closest?.('dialog')) return;
    const id = selectedId;
    setSelectedId(null);
    if (id) document.querySelector<HTMLElement>(`.react-flow__node[data-id="${CSS.escape(id)}"]`)?.focus();
  }, [selectedId]);

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
          {count} component{count === 1 ? '' : 's'} · {graph.data.dependencies.length}{' '}
          {graph.data.dependencies.length === 1 ? 'dependency' : 'dependencies'}
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
      {count > 1 && (
        <p className="cv-hint">
          An arrow points from a component to the one that depends on it.
          {canEdit &&
            (phone
              ? ' To add a dependency, open a component and use “Depends on”.'
              : ' Drag from a component’s right handle to another to make that one depend on it, or use “Depends on” in its panel.')}
        </p>
      )}
      <div className="cv-body">
        <div className="cv-flow" data-testid="canvas" onKeyDown={onFlowKeyDown}>
          <div className="cv-messages" aria-live="polite">
            {messages.map((m) => (
              <div key={m.id} className={`cv-message cv-message-${m.tone}`} role={m.tone === 'error' ? 'alert' : 'status'}>
                {m.text}
              </div>
            ))}
          </div>
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
            onNodeClick={onNodeClick}
            isValidConnection={notSelf}
            nodesDraggable={canEdit}
            nodesConnectable={canEdit}
            edgesFocusable
            deleteKeyCode={canEdit ? ['Delete', 'Backspace'] : null}
            fitView
            fitViewOptions={phone ? { minZoom: 0.7, maxZoom: 1 } : { maxZoom: 1 }}
            minZoom={0.05}
            maxZoom={2}
            colorMode={theme}
            proOptions={{ hideAttribution: true }}
          >
            <Background gap={24} />
            {!phone && (
              <MiniMap pannable zoomable ariaLabel="Canvas overview" nodeClassName={(n) => miniClass(n as CanvasNode)} />
            )}
            <Controls showInteractive={false} />
          </ReactFlow>
        </div>
        <div ref={panelSlot} className="cv-panel-slot" onKeyDown={onPanelKeyDown}>
          {selected && (
            <SidePanel
              key={selected.id}
              projectId={projectId}
              node={selected}
              graph={graph.data}
              canEdit={canEdit}
              report={report}
              onClose={clearSelection}
              onDeleted={clearSelection}
            />
          )}
        </div>
      </div>
      {adding && (
        <AddComponent
          projectId={projectId}
          onClose={() => setAdding(false)}
          onAdded={(id, at) => {
            setAdding(false);
            lastAdded.current = id;
            setSelectedId(id);
            // Into view, at a readable zoom.
            void flow.setCenter(at.x + NODE_WIDTH / 2, at.y + NODE_HEIGHT / 2, {
              zoom: Math.min(1, Math.max(flow.getZoom(), 0.8)),
              duration: 250,
            });
          }}
          near={() => {
            // Right of the component added (or else selected) last, when there is one; else the
            // middle of the view.
            const anchorId = lastAdded.current ?? selectedId;
            const anchor = nodes.find((n) => n.id === anchorId)?.position ?? null;
            const el = document.querySelector('.cv-flow');
            const r = el?.getBoundingClientRect();
            const centre = flow.screenToFlowPosition({ x: r ? r.left + r.width / 2 : 400, y: r ? r.top + r.height / 2 : 300 });
            return wantedSpot(anchor, centre);
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
  onAdded: (id: string, at: Point) => void;
  near: () => Point;
  taken: () => Point[];
  report: Report;
}) {
  const client = useQueryClient();
  const formId = useId();
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
      onAdded(c.id, position);
    } catch (err) {
      // Said once, in the dialog.
      setError(err);
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
          <Button type="submit" form={formId} variant="primary" busy={busy} disabled={!name.trim()}>
            Add
          </Button>
        </>
      }
    >
      {/* Enter in either field submits. */}
      <form id={formId} className="cv-form" onSubmit={(e) => void submit(e)}>
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
