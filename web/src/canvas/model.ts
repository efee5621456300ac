// The canvas's data model: the project graph as the API returns it, and pure functions that
// change it. Every function returns a new graph but keeps the objects of untouched components
// and dependencies, so memoized nodes do not re-render and a 300-node canvas stays cheap.
// Optimistic updates apply these functions, and their rollbacks apply the inverse ones.
import type { components } from '../api/schema';

export type GraphNode = components['schemas']['GraphNodeResponse'];
export type Graph = components['schemas']['ProjectGraphResponse'];
export type Dependency = components['schemas']['DependencyResponse'];
export type Component = components['schemas']['ComponentResponse'];
export type Task = components['schemas']['TaskResponse'];
export type ComponentStatus = components['schemas']['ComponentStatusSchema'];
export type TaskStatus = components['schemas']['TaskStatusSchema'];
export interface Point {
  x: number;
  y: number;
}

export const COMPONENT_STATUSES: ComponentStatus[] = ['pending', 'in_progress', 'blocked', 'completed'];
export const TASK_STATUSES: TaskStatus[] = ['todo', 'in_progress', 'review', 'done'];

/** The React Flow edge id of "`component_id` depends on `depends_on_id`". */
export function edgeId(d: { component_id: string; depends_on_id: string }): string {
  return `${d.depends_on_id}->${d.component_id}`;
}

export function hasDependency(g: Graph, componentId: string, dependsOnId: string): boolean {
  return g.dependencies.some((d) => d.component_id === componentId && d.depends_on_id === dependsOnId);
}

export function addDependency(g: Graph, dep: Dependency): Graph {
  if (hasDependency(g, dep.component_id, dep.depends_on_id)) return g;
  return { ...g, dependencies: [...g.dependencies, dep] };
}

export function removeDependency(g: Graph, componentId: string, dependsOnId: string): Graph {
  if (!hasDependency(g, componentId, dependsOnId)) return g;
  return {
    ...g,
    dependencies: g.dependencies.filter(
      (d) => !(d.component_id === componentId && d.depends_on_id === dependsOnId),
    ),
  };
}

/** Replaces the fields of a component the server (or an event) sent, keeping task counts. */
export function upsertComponent(g: Graph, c: Component, counts?: Partial<Pick<GraphNode, 'task_count' | 'open_task_count'>>): Graph {
  const i = g.components.findIndex((n) => n.id === c.id);
  if (i < 0) {
    const node: GraphNode = { ...c, task_count: counts?.task_count ?? 0, open_task_count: counts?.open_task_count ?? 0 };
    return { ...g, components: [...g.components, node] };
  }
  const old = g.components[i]!;
  // Never step back: an event or a response older than what we hold is ignored.
  if (c.version < old.version) return g;
  const next: GraphNode = { ...old, ...c, task_count: counts?.task_count ?? old.task_count, open_task_count: counts?.open_task_count ?? old.open_task_count };
  if (sameNode(old, next)) return g;
  const components = g.components.slice();
  components[i] = next;
  return { ...g, components };
}

/** Changes some fields of a component locally (an optimistic edit), keeping its version. */
export function patchComponent(g: Graph, id: string, patch: Partial<GraphNode>): Graph {
  const i = g.components.findIndex((n) => n.id === id);
  if (i < 0) return g;
  const components = g.components.slice();
  components[i] = { ...components[i]!, ...patch };
  return { ...g, components };
}

/** Removes a component and every dependency that touches it; returns what was removed too. */
export function removeComponent(g: Graph, id: string): { graph: Graph; node?: GraphNode; dependencies: Dependency[] } {
  const node = g.components.find((n) => n.id === id);
  if (!node) return { graph: g, dependencies: [] };
  const touching = g.dependencies.filter((d) => d.component_id === id || d.depends_on_id === id);
  return {
    graph: {
      ...g,
      components: g.components.filter((n) => n.id !== id),
      dependencies: g.dependencies.filter((d) => d.component_id !== id && d.depends_on_id !== id),
    },
    node,
    dependencies: touching,
  };
}

/** Puts back a removed component (at its old index when possible) and its dependencies. */
export function restoreComponent(g: Graph, node: GraphNode, dependencies: Dependency[], index?: number): Graph {
  if (g.components.some((n) => n.id === node.id)) return g;
  const components = g.components.slice();
  components.splice(index ?? components.length, 0, node);
  let next: Graph = { ...g, components };
  const present = new Set(components.map((n) => n.id));
  for (const d of dependencies) {
    if (present.has(d.component_id) && present.has(d.depends_on_id)) next = addDependency(next, d);
  }
  return next;
}

/** Sets positions of many components (a drag, a layout), keeping the others untouched. */
export function movePositions(g: Graph, positions: ReadonlyMap<string, Point | null>): Graph {
  let changed = false;
  const components = g.components.map((n) => {
    if (!positions.has(n.id)) return n;
    const p = positions.get(n.id) ?? null;
    if (samePoint(n.position ?? null, p)) return n;
    changed = true;
    return { ...n, position: p };
  });
  return changed ? { ...g, components } : g;
}

/** Adjusts the task counts of a component by deltas (a task added, completed, deleted). */
export function adjustTaskCounts(g: Graph, componentId: string, total: number, open: number): Graph {
  if (total === 0 && open === 0) return g;
  const i = g.components.findIndex((n) => n.id === componentId);
  if (i < 0) return g;
  const old = g.components[i]!;
  const components = g.components.slice();
  components[i] = {
    ...old,
    task_count: Math.max(0, old.task_count + total),
    open_task_count: Math.max(0, old.open_task_count + open),
  };
  return { ...g, components };
}

/** Count deltas when a task goes from `before` to `after` (either may be absent). */
export function taskCountDelta(before: TaskStatus | undefined, after: TaskStatus | undefined): { total: number; open: number } {
  const openOf = (s: TaskStatus | undefined) => (s !== undefined && s !== 'done' ? 1 : 0);
  const existsOf = (s: TaskStatus | undefined) => (s !== undefined ? 1 : 0);
  return { total: existsOf(after) - existsOf(before), open: openOf(after) - openOf(before) };
}

/** The share of a component's tasks that are done, 0-100 (null when it has none). */
export function taskDonePercent(n: Pick<GraphNode, 'task_count' | 'open_task_count'>): number | null {
  if (n.task_count <= 0) return null;
  return Math.round(((n.task_count - n.open_task_count) / n.task_count) * 100);
}

function samePoint(a: Point | null, b: Point | null): boolean {
  if (a === null || b === null) return a === b;
  return a.x === b.x && a.y === b.y;
}

function sameNode(a: GraphNode, b: GraphNode): boolean {
  return (
    a.version === b.version &&
    a.name === b.name &&
    a.type === b.type &&
    a.status === b.status &&
    a.progress === b.progress &&
    (a.url ?? null) === (b.url ?? null) &&
    (a.host ?? null) === (b.host ?? null) &&
    (a.icon ?? null) === (b.icon ?? null) &&
    (a.description ?? null) === (b.description ?? null) &&
    samePoint(a.position ?? null, b.position ?? null) &&
    a.task_count === b.task_count &&
    a.open_task_count === b.open_task_count &&
    a.updated_at === b.updated_at
  );
}
