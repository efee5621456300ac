import { describe, expect, it } from 'vitest';
import { syncNodes, toEdges } from './flow';
import { movePositions, upsertComponent, type Graph, type GraphNode } from './model';

function node(id: string, position: { x: number; y: number } | null): GraphNode {
  return {
    id, project_id: 'p', name: id, type: null, status: 'pending', progress: 0, position, metadata: {},
    version: 1, created_at: '', updated_at: '', task_count: 0, open_task_count: 0,
  };
}

describe('syncNodes', () => {
  const g: Graph = {
    project_id: 'p',
    components: Array.from({ length: 300 }, (_, i) => node(`n${i}`, i % 2 ? { x: i, y: i } : null)),
    dependencies: [],
  };
  const auto = new Map(g.components.filter((c) => !c.position).map((c) => [c.id, { x: -1, y: -1 }]));

  it('uses saved positions, then automatic ones', () => {
    const nodes = syncNodes([], g, auto, true);
    expect(nodes[1]!.position).toEqual({ x: 1, y: 1 });
    expect(nodes[0]!.position).toEqual({ x: -1, y: -1 });
    expect(nodes[0]!.draggable).toBe(true);
  });

  it('returns the same array when nothing changed and re-creates only the changed node', () => {
    const first = syncNodes([], g, auto, true);
    expect(syncNodes(first, g, auto, true)).toBe(first);
    const moved = movePositions(g, new Map([['n3', { x: 50, y: 60 }]]));
    const renamed = upsertComponent(moved, { ...moved.components[5]!, name: 'five', version: 2 });
    const second = syncNodes(first, renamed, auto, true);
    expect(second).not.toBe(first);
    const changed = second.filter((n, i) => n !== first[i]).map((n) => n.id);
    expect(changed).toEqual(['n3', 'n5']);
    expect(second[3]!.position).toEqual({ x: 50, y: 60 });
  });

  it('keeps the local position of a node being dragged and makes a viewer canvas read-only', () => {
    const first = syncNodes([], g, auto, true);
    const dragging = first.map((n) => (n.id === 'n1' ? { ...n, dragging: true, position: { x: 999, y: 999 } } : n));
    const echo = movePositions(g, new Map([['n1', { x: 5, y: 5 }]]));
    expect(syncNodes(dragging, echo, auto, true)[1]!.position).toEqual({ x: 999, y: 999 });
    expect(syncNodes(first, g, auto, false).every((n) => n.draggable === false && n.connectable === false)).toBe(true);
  });
});

describe('toEdges', () => {
  it('draws from the dependency to its dependent and reuses edge objects', () => {
    const deps = [{ component_id: 'b', depends_on_id: 'a', created_at: '' }];
    const e = toEdges(deps, true);
    expect(e[0]).toMatchObject({ id: 'a->b', source: 'a', target: 'b' });
    expect(toEdges(deps, true)[0]).toBe(e[0]);
  });

  it('has an arrowhead at the dependent and says who depends on whom', () => {
    const deps = [{ component_id: 'api', depends_on_id: 'db', created_at: '' }];
    const names: Record<string, string> = { api: 'API', db: 'Postgres' };
    const [e] = toEdges(deps, false, (id) => names[id] ?? id);
    expect(e).toMatchObject({ markerEnd: { type: 'arrowclosed' }, ariaLabel: 'API depends on Postgres', deletable: false });
  });
});
