// From the cached graph to React Flow's nodes and edges, reusing the previous objects of every
// component and dependency that did not change: React Flow and the memoized node component then
// only touch what moved, which keeps a 300-node canvas smooth while another client edits it.
import { MarkerType, type Edge, type Node } from '@xyflow/react';
import { HEALTH_LABEL, type ComponentHealth } from '../checks/status';
import { edgeId, type Dependency, type Graph, type GraphNode, type Point } from './model';

/** A node's component and what its checks (and its dependencies' checks) say of it. */
export type ComponentNodeData = { node: GraphNode; health?: ComponentHealth };
export type CanvasNode = Node<ComponentNodeData, 'component'>;

const samePoint = (a: Point, b: Point) => a.x === b.x && a.y === b.y;

/**
 * Nodes for `graph`. `auto` holds positions placed by the automatic layout. A node being
 * dragged keeps its local position (a live echo must not yank it from under the pointer).
 * Returns `prev` itself when nothing changed.
 */
export function syncNodes(
  prev: CanvasNode[],
  graph: Graph,
  auto: ReadonlyMap<string, Point>,
  editable: boolean,
  health: ReadonlyMap<string, ComponentHealth> = new Map(),
): CanvasNode[] {
  const byId = new Map(prev.map((n) => [n.id, n]));
  let changed = prev.length !== graph.components.length;
  const next = graph.components.map((c, i) => {
    const old = byId.get(c.id);
    const position = old?.dragging ? old.position : (c.position ?? auto.get(c.id) ?? { x: 0, y: 0 });
    const h = health.get(c.id);
    if (old && old.data.node === c && old.data.health === h && samePoint(old.position, position) && old.draggable === editable) {
      if (prev[i] !== old) changed = true;
      return old;
    }
    changed = true;
    const n: CanvasNode = {
      ...old,
      id: c.id,
      type: 'component',
      position,
      data: { node: c, health: h },
      draggable: editable,
      connectable: editable,
      deletable: editable,
      ariaLabel: `Component ${c.name}${h && h.health !== 'none' ? `, ${HEALTH_LABEL[h.health].toLowerCase()}` : ''}`,
    };
    return n;
  });
  return changed ? next : prev;
}

const edgeCache = new WeakMap<Dependency, Edge>();

/** An arrowhead at the end of each edge: at the component that depends on the other. */
export const ARROW = { type: MarkerType.ArrowClosed, width: 18, height: 18 } as const;

/**
 * Edges for the dependencies: drawn from the dependency to the component that needs it, with an
 * arrowhead at the latter, and named for screen readers ("API depends on Postgres").
 */
export function toEdges(deps: readonly Dependency[], editable: boolean, nameOf: (id: string) => string = () => 'component'): Edge[] {
  return deps.map((d) => {
    const label = `${nameOf(d.component_id)} depends on ${nameOf(d.depends_on_id)}`;
    const cached = edgeCache.get(d);
    if (cached && cached.deletable === editable && cached.ariaLabel === label) return cached;
    const e: Edge = {
      id: edgeId(d),
      source: d.depends_on_id,
      target: d.component_id,
      deletable: editable,
      ariaLabel: label,
      markerEnd: ARROW,
    };
    edgeCache.set(d, e);
    return e;
  });
}
