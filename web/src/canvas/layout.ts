// Automatic layout: dagre places components that have no saved position, left to right along
// their dependencies (a dependency sits left of what depends on it). When some components
// already have positions, the new ones are laid out among themselves and put below them, so
// nothing the user arranged moves.
import dagre from '@dagrejs/dagre';
import type { Graph, Point } from './model';

export const NODE_WIDTH = 220;
export const NODE_HEIGHT = 124;
const GAP = 80;

export interface LayoutEdge {
  /** The dependency (drawn on the left). */
  source: string;
  /** The component that depends on it. */
  target: string;
}

/** Lays out `ids` with dagre (left to right); returns top-left positions. */
export function layoutIds(ids: readonly string[], edges: readonly LayoutEdge[]): Map<string, Point> {
  const out = new Map<string, Point>();
  if (ids.length === 0) return out;
  const g = new dagre.graphlib.Graph({ multigraph: false, compound: false });
  g.setGraph({ rankdir: 'LR', nodesep: 30, ranksep: 90, marginx: 0, marginy: 0 });
  g.setDefaultEdgeLabel(() => ({}));
  const present = new Set(ids);
  for (const id of ids) g.setNode(id, { width: NODE_WIDTH, height: NODE_HEIGHT });
  for (const e of edges) {
    if (e.source !== e.target && present.has(e.source) && present.has(e.target)) g.setEdge(e.source, e.target);
  }
  dagre.layout(g);
  for (const id of ids) {
    const n = g.node(id) as { x: number; y: number } | undefined;
    // dagre gives centres; React Flow wants top-left corners.
    if (n) out.set(id, { x: Math.round(n.x - NODE_WIDTH / 2), y: Math.round(n.y - NODE_HEIGHT / 2) });
  }
  return wrapTallRanks(out);
}

const COLUMN_GAP = 40;
const ROW_GAP = 30;

/**
 * A rank (a column of the left-to-right layout) with many components makes a very tall picture
 * that fits the screen only at an unreadable zoom. Ranks taller than about the square root of the
 * node count are folded into several columns, and the ranks to their right shift over.
 */
export function wrapTallRanks(placed: Map<string, Point>): Map<string, Point> {
  const perColumn = Math.max(6, Math.ceil(Math.sqrt(placed.size)));
  const ranks = new Map<number, [string, Point][]>();
  for (const entry of placed) {
    const list = ranks.get(entry[1].x) ?? [];
    list.push(entry);
    ranks.set(entry[1].x, list);
  }
  if ([...ranks.values()].every((r) => r.length <= perColumn)) return placed;
  const ys = [...placed.values()].map((p) => p.y);
  const top = Math.min(...ys);
  const oldHeight = Math.max(...ys) - top || 1;
  const rowStep = NODE_HEIGHT + ROW_GAP;
  const newHeight = (perColumn - 1) * rowStep;
  // Short ranks keep their order and relative place, squeezed to the new height.
  const squeeze = Math.min(1, newHeight / oldHeight);
  const out = new Map<string, Point>();
  let shift = 0;
  for (const x of [...ranks.keys()].sort((a, b) => a - b)) {
    const rank = ranks.get(x)!.sort((a, b) => a[1].y - b[1].y);
    if (rank.length <= perColumn) {
      let last = -Infinity;
      for (const [id, p] of rank) {
        const y = Math.max(Math.round(top + (p.y - top) * squeeze), last + rowStep);
        out.set(id, { x: p.x + shift, y });
        last = y;
      }
      continue;
    }
    rank.forEach(([id], i) => {
      const col = Math.floor(i / perColumn);
      const row = i % perColumn;
      out.set(id, { x: x + shift + col * (NODE_WIDTH + COLUMN_GAP), y: top + row * rowStep });
    });
    shift += (Math.ceil(rank.length / perColumn) - 1) * (NODE_WIDTH + COLUMN_GAP);
  }
  return out;
}

/**
 * Positions for the components of `graph` that have neither a saved position nor one in
 * `known` (positions placed earlier in this session, which stay put). Returns only the new ones.
 */
export function placeUnpositioned(graph: Graph, known: ReadonlyMap<string, Point> = new Map()): Map<string, Point> {
  const missing: string[] = [];
  let maxY = -Infinity;
  let minX = Infinity;
  for (const c of graph.components) {
    const p = c.position ?? known.get(c.id);
    if (p) {
      maxY = Math.max(maxY, p.y);
      minX = Math.min(minX, p.x);
    } else {
      missing.push(c.id);
    }
  }
  if (missing.length === 0) return new Map();
  const edges = graph.dependencies.map((d) => ({ source: d.depends_on_id, target: d.component_id }));
  const placed = layoutIds(missing, edges);
  if (maxY === -Infinity) return placed;
  // Below everything already placed, aligned with its left edge.
  const dy = maxY + NODE_HEIGHT + GAP;
  const dx = minX;
  const shifted = new Map<string, Point>();
  for (const [id, p] of placed) shifted.set(id, { x: p.x + dx, y: p.y + dy });
  return shifted;
}

/**
 * A free spot for a new component (its top-left corner): `near` itself when nothing is there
 * (`near` is where it should go: right of the last component, or the middle of the view), else
 * the nearest free place on a grid of node-sized cells around it, so new components gather
 * where the user is looking instead of stacking up in a column.
 */
export function freeSpot(taken: Iterable<Point>, near: Point): Point {
  const boxes = [...taken];
  const free = (p: Point) =>
    !boxes.some((b) => Math.abs(b.x - p.x) < NODE_WIDTH + 20 && Math.abs(b.y - p.y) < NODE_HEIGHT + 20);
  const start = { x: Math.round(near.x), y: Math.round(near.y) };
  if (free(start)) return start;
  const dx = NODE_WIDTH + 40;
  const dy = NODE_HEIGHT + 30;
  for (let ring = 1; ring < 30; ring++) {
    const cells: Point[] = [];
    for (let i = -ring; i <= ring; i++) {
      for (let j = -ring; j <= ring; j++) {
        if (Math.max(Math.abs(i), Math.abs(j)) !== ring) continue;
        cells.push({ x: start.x + i * dx, y: start.y + j * dy });
      }
    }
    // Nearest first; on a tie, right of and below the wanted place before left and above.
    cells.sort((a, b) => dist(a, start) - dist(b, start) || b.x - a.x || b.y - a.y);
    const found = cells.find(free);
    if (found) return found;
  }
  return { x: start.x, y: start.y + boxes.length * dy };
}

const dist = (a: Point, b: Point) => Math.hypot((a.x - b.x) / (NODE_WIDTH + 40), (a.y - b.y) / (NODE_HEIGHT + 30));

/** Where a new component should go: right of `last` (the one added or selected last), else centred on `centre`. */
export function wantedSpot(last: Point | null, centre: Point): Point {
  if (last) return { x: last.x + NODE_WIDTH + 40, y: last.y };
  return { x: Math.round(centre.x - NODE_WIDTH / 2), y: Math.round(centre.y - NODE_HEIGHT / 2) };
}
