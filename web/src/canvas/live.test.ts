import { describe, expect, it } from 'vitest';
import { applyLiveEvent } from './live';
import type { Graph, GraphNode } from './model';

function node(id: string, extra: Partial<GraphNode> = {}): GraphNode {
  return {
    id, project_id: 'p', name: id, type: null, status: 'pending', progress: 0, position: { x: 0, y: 0 },
    metadata: { k: 1 } as unknown as GraphNode['metadata'], version: 3, created_at: 't0', updated_at: 't0', task_count: 2, open_task_count: 1, ...extra,
  };
}
const g = (): Graph => ({ project_id: 'p', components: [node('a'), node('b')], dependencies: [] });
const ev = (kind: string, payload: Record<string, unknown>) => ({ kind, payload });

describe('applyLiveEvent', () => {
  it('patches a component update, keeps counts and metadata, and ignores stale versions', () => {
    const start = g();
    const out = applyLiveEvent(start, ev('component.updated', {
      component_id: 'a', project_id: 'p', name: 'A2', type: 'db', status: 'blocked', progress: 50,
      position: { x: 7, y: 8 }, version: 4, timestamp: 't1',
    })).graph;
    expect(out.components[0]).toMatchObject({ name: 'A2', type: 'db', status: 'blocked', progress: 50, position: { x: 7, y: 8 }, version: 4, task_count: 2, metadata: { k: 1 } });
    expect(out.components[1]).toBe(start.components[1]);
    const stale = applyLiveEvent(out, ev('component.updated', { component_id: 'a', project_id: 'p', name: 'old', version: 3 })).graph;
    expect(stale).toBe(out);
  });

  it('adds created components and removes deleted ones with their edges', () => {
    let out = applyLiveEvent(g(), ev('component.created', { component_id: 'c', project_id: 'p', name: 'C', status: 'pending', progress: 0, position: null, version: 1 })).graph;
    expect(out.components.map((n) => n.id)).toEqual(['a', 'b', 'c']);
    out = applyLiveEvent(out, ev('component.linked', { component_id: 'c', depends_on_id: 'a', project_id: 'p' })).graph;
    expect(out.dependencies).toHaveLength(1);
    out = applyLiveEvent(out, ev('component.deleted', { component_id: 'a', project_id: 'p', version: 3 })).graph;
    expect(out.components.map((n) => n.id)).toEqual(['b', 'c']);
    expect(out.dependencies).toEqual([]);
  });

  it('unlinks, ignores other projects, and asks for task refetch of its own components only', () => {
    const linked = applyLiveEvent(g(), ev('component.linked', { component_id: 'b', depends_on_id: 'a', project_id: 'p' })).graph;
    expect(applyLiveEvent(linked, ev('component.unlinked', { component_id: 'b', depends_on_id: 'a', project_id: 'p' })).graph.dependencies).toEqual([]);
    const other = g();
    expect(applyLiveEvent(other, ev('component.created', { component_id: 'z', project_id: 'q', version: 1 })).graph).toBe(other);
    expect(applyLiveEvent(other, ev('task.updated', { component_id: 'a', task_id: 't' })).tasksOf).toBe('a');
    expect(applyLiveEvent(other, ev('task.updated', { component_id: 'zz', task_id: 't' })).tasksOf).toBeUndefined();
  });
});
