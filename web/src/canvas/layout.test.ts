import { describe, expect, it } from 'vitest';
import { freeSpot, layoutIds, NODE_HEIGHT, NODE_WIDTH, placeUnpositioned, wantedSpot } from './layout';
import type { Graph, GraphNode } from './model';

function node(id: string, position: { x: number; y: number } | null = null): GraphNode {
  return {
    id, project_id: 'p', name: id, type: null, status: 'pending', progress: 0, position, metadata: {},
    version: 1, created_at: '', updated_at: '', task_count: 0, open_task_count: 0,
  };
}
const dep = (component_id: string, depends_on_id: string) => ({ component_id, depends_on_id, created_at: '' });

const overlap = (a: { x: number; y: number }, b: { x: number; y: number }) =>
  Math.abs(a.x - b.x) < NODE_WIDTH && Math.abs(a.y - b.y) < NODE_HEIGHT;

describe('layoutIds', () => {
  it('puts a dependency left of what depends on it, without overlaps', () => {
    const p = layoutIds(['db', 'api', 'ui', 'cache'], [
      { source: 'db', target: 'api' },
      { source: 'api', target: 'ui' },
      { source: 'cache', target: 'api' },
    ]);
    expect(p.size).toBe(4);
    expect(p.get('db')!.x).toBeLessThan(p.get('api')!.x);
    expect(p.get('api')!.x).toBeLessThan(p.get('ui')!.x);
    const all = [...p.values()];
    for (let i = 0; i < all.length; i++) for (let j = i + 1; j < all.length; j++) expect(overlap(all[i]!, all[j]!)).toBe(false);
  });

  it('ignores edges to components outside the set and self edges', () => {
    const p = layoutIds(['a'], [{ source: 'a', target: 'a' }, { source: 'zz', target: 'a' }]);
    expect([...p.keys()]).toEqual(['a']);
  });

  it('lays out 300 components quickly', () => {
    const ids = Array.from({ length: 300 }, (_, i) => `n${i}`);
    const edges = ids.slice(1).map((id, i) => ({ source: `n${Math.floor(i / 3)}`, target: id }));
    const t0 = performance.now();
    const p = layoutIds(ids, edges);
    const ms = performance.now() - t0;
    expect(p.size).toBe(300);
    expect(ms).toBeLessThan(2000);
    // Wide ranks are folded: the picture is no taller than about three times its width.
    const xs = [...p.values()].map((q) => q.x);
    const ys = [...p.values()].map((q) => q.y);
    const w = Math.max(...xs) - Math.min(...xs) + NODE_WIDTH;
    const h = Math.max(...ys) - Math.min(...ys) + NODE_HEIGHT;
    expect(h / w).toBeLessThan(1.5);
    expect(w / h).toBeLessThan(4);
    const all = [...p.values()];
    for (let i = 0; i < all.length; i++) for (let j = i + 1; j < all.length; j++) expect(overlap(all[i]!, all[j]!)).toBe(false);
    // Dependencies still sit left of their dependents.
    for (const e of edges) expect(p.get(e.source)!.x).toBeLessThan(p.get(e.target)!.x);
  });
});

describe('placeUnpositioned', () => {
  it('lays out every component of a project without positions', () => {
    const g: Graph = { project_id: 'p', components: [node('a'), node('b')], dependencies: [dep('b', 'a')] };
    const p = placeUnpositioned(g);
    expect(p.size).toBe(2);
    expect(p.get('a')!.x).toBeLessThan(p.get('b')!.x);
  });

  it('leaves placed components alone and puts new ones below them', () => {
    const g: Graph = {
      project_id: 'p',
      components: [node('a', { x: 500, y: 100 }), node('b', { x: 900, y: 300 }), node('c'), node('d')],
      dependencies: [],
    };
    const p = placeUnpositioned(g, new Map([['d', { x: 0, y: 700 }]]));
    expect([...p.keys()]).toEqual(['c']);
    expect(p.get('c')!.y).toBeGreaterThan(700 + NODE_HEIGHT);
    expect(p.get('c')!.x).toBe(0);
  });

  it('returns nothing when everything has a position', () => {
    const g: Graph = { project_id: 'p', components: [node('a', { x: 1, y: 2 })], dependencies: [] };
    expect(placeUnpositioned(g).size).toBe(0);
  });
});

describe('freeSpot', () => {
  it('takes the wanted place when it is free', () => {
    expect(freeSpot([], { x: 500, y: 300 })).toEqual({ x: 500, y: 300 });
  });

  it('otherwise the nearest free place around it, not a column going down', () => {
    const taken = [{ x: 500, y: 300 }];
    const second = freeSpot(taken, { x: 500, y: 300 });
    expect(overlap(second, taken[0]!)).toBe(false);
    expect(second).toEqual({ x: 500 + NODE_WIDTH + 40, y: 300 }); // right of it first
    // Ten more, each wanting the same place: all near it, none on another, none far below.
    const all = [...taken, second];
    for (let i = 0; i < 10; i++) all.push(freeSpot(all, { x: 500, y: 300 }));
    for (const [i, a] of all.entries()) for (const b of all.slice(i + 1)) expect(overlap(a, b)).toBe(false);
    expect(Math.max(...all.map((p) => p.y)) - 300).toBeLessThanOrEqual(2 * (NODE_HEIGHT + 30));
  });

  it('wants the place right of the last component, else the middle of the view', () => {
    expect(wantedSpot({ x: 10, y: 20 }, { x: 0, y: 0 })).toEqual({ x: 10 + NODE_WIDTH + 40, y: 20 });
    expect(wantedSpot(null, { x: 500, y: 300 })).toEqual({ x: 500 - NODE_WIDTH / 2, y: 300 - NODE_HEIGHT / 2 });
  });
});
