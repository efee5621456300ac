// From the cached graph to React Flow's nodes and edges, reusing the previous objects of every
// component and dependency that did not change: React Flow and the memoized node component then
// only touch what moved, which keeps a 300-node canvas smooth while another client edits it.
import type { Edge, Node } from '@xyflow/react';
import { edgeId, type Dependency, type Graph, type GraphNode, type Point } from './model';

export type ComponentNodeData = { node: GraphNode };
export type CanvasNode = Node<ComponentNodeData, 'component'>;

const samePoint = (a: Point, b: Point) => a.x === b.x && a.y === b.y;

/**
 * Nodes for `graph`. `auto` holds positions placed by the automatic layout. A node being
 * dragged keeps its local position (a live echo must not yank it from under the pointer).
 * Returns `prev` itself when nothing changed.
 */
export function syncNodes(prev: CanvasNode[], graph: Graph, auto: ReadonlyMap<string, Point>, editable: boolean): CanvasNode[] {
  const byId = new Map(prev.map((n) => [n.id, n]));
  let changed = prev.length !== graph.components.length;
  const next = graph.components.map((c, i) => {
    const old = byId.get(c.id);
    const position = old?.dragging ? old.position : (c.position ?? auto.get(c.id) ?? { x: 0, y: 0 });
    if (old && old.data.node === c && samePoint(old.position, position) && old.draggable === editable) {
      if (prev[i] !== old) changed = true;
      return old;
    }
    changed = true;
    const n: CanvasNode = {
      ...old,
      id: c.id,
      type: 'component',
      position,
      data: { node: c },
      draggable: editable,
      connectable: editable,
      deletable: editable,
      ariaLabel: `Component ${c.name}`,
    };
    return n;
  });
  return changed ? next : prev;
}

const edgeCache = new WeakMap<Dependency, Edge>();

/** Edges for the dependencies: drawn from the dependency to the component that needs it. */
export function toEdges(deps: readonly Dependency[], editable: boolean): Edge[] {
  return deps.map((d) => {
    const cached = edgeCache.get(d);
    if (cached && cached.deletable === editable) return cached;
    const e: Edge = {
      id: edgeId(d),
      source: d.depends_on_id,
      target: d.component_id,
      deletable: editable,
      ariaLabel: 'Dependency',
    };
    edgeCache.set(d, e);
    return e;
  });
}
