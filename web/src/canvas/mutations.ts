// The canvas's optimistic changes, as specs for `optimisticOptions`: each says what to show at
// once, how to undo it on failure and how to fold in the server's answer. Requests are injected,
// so the tests drive them without a server.
import type { OptimisticSpec } from './optimistic';
import {
  addDependency, adjustTaskCounts, hasDependency, patchComponent, removeComponent, removeDependency,
  restoreComponent, taskCountDelta, upsertComponent,
  type Component, type Dependency, type Graph, type GraphNode, type TaskStatus,
} from './model';

type Fail<V> = ((error: unknown, vars: V) => void) | undefined;

export interface LinkVars {
  componentId: string;
  dependsOnId: string;
}

/** "`componentId` depends on `dependsOnId`": the edge shows at once, goes away if refused. */
export function linkSpec(
  call: (componentId: string, dependsOnId: string) => Promise<Dependency>,
  onFailure?: Fail<LinkVars>,
): OptimisticSpec<Graph, LinkVars, Dependency, { added: boolean }> {
  return {
    call: (v) => call(v.componentId, v.dependsOnId),
    apply: (g, v) => {
      if (hasDependency(g, v.componentId, v.dependsOnId)) return { graph: g, ctx: { added: false } };
      const dep = { component_id: v.componentId, depends_on_id: v.dependsOnId, created_at: new Date().toISOString() };
      return { graph: addDependency(g, dep), ctx: { added: true } };
    },
    revert: (g, v, ctx) => (ctx.added ? removeDependency(g, v.componentId, v.dependsOnId) : g),
    commit: (g, dep) => addDependency(g, dep),
    onFailure,
  };
}

/** Removes a dependency at once, puts it back if the server refuses. */
export function unlinkSpec(
  call: (componentId: string, dependsOnId: string) => Promise<void>,
  onFailure?: Fail<LinkVars>,
): OptimisticSpec<Graph, LinkVars, void, Dependency | undefined> {
  return {
    call: (v) => call(v.componentId, v.dependsOnId),
    apply: (g, v) => {
      const dep = g.dependencies.find((d) => d.component_id === v.componentId && d.depends_on_id === v.dependsOnId);
      return { graph: removeDependency(g, v.componentId, v.dependsOnId), ctx: dep };
    },
    revert: (g, _v, dep) => (dep ? addDependency(g, dep) : g),
    onFailure,
  };
}

interface Removed {
  node?: GraphNode;
  dependencies: Dependency[];
  index: number;
}

/** Deletes a component (and its edges) at once; both come back in place if the server refuses. */
export function deleteComponentSpec(
  call: (id: string) => Promise<void>,
  onFailure?: Fail<{ id: string }>,
): OptimisticSpec<Graph, { id: string }, void, Removed> {
  return {
    call: (v) => call(v.id),
    apply: (g, v) => {
      const index = g.components.findIndex((n) => n.id === v.id);
      const r = removeComponent(g, v.id);
      return { graph: r.graph, ctx: { node: r.node, dependencies: r.dependencies, index } };
    },
    revert: (g, _v, ctx) => (ctx.node ? restoreComponent(g, ctx.node, ctx.dependencies, ctx.index) : g),
    onFailure,
  };
}

export type ComponentFields = Partial<
  Pick<Component, 'name' | 'type' | 'status' | 'progress' | 'url' | 'host' | 'icon' | 'description'>
>;
export interface UpdateVars {
  id: string;
  body: ComponentFields;
  /** The version edited; undefined overwrites (after a conflict, when the user says so). */
  version: number | undefined;
}

/** Edits a component's fields at once; on failure only the fields still showing ours go back. */
export function updateComponentSpec(
  call: (id: string, body: ComponentFields, version: number | undefined) => Promise<Component>,
  onFailure?: Fail<UpdateVars>,
): OptimisticSpec<Graph, UpdateVars, Component, ComponentFields> {
  return {
    call: (v) => call(v.id, v.body, v.version),
    apply: (g, v) => {
      const old = g.components.find((n) => n.id === v.id);
      const prev: ComponentFields = {};
      if (old) {
        for (const k of Object.keys(v.body) as (keyof ComponentFields)[]) {
          (prev as Record<string, unknown>)[k] = old[k];
        }
      }
      return { graph: patchComponent(g, v.id, v.body), ctx: prev };
    },
    revert: (g, v, prev) => {
      const cur = g.components.find((n) => n.id === v.id);
      if (!cur) return g;
      const back: Record<string, unknown> = {};
      for (const k of Object.keys(prev) as (keyof ComponentFields)[]) {
        if (cur[k] === v.body[k]) back[k] = prev[k];
      }
      return Object.keys(back).length ? patchComponent(g, v.id, back as Partial<GraphNode>) : g;
    },
    commit: (g, c) => upsertComponent(g, c),
    onFailure,
  };
}

export interface TaskCountVars {
  componentId: string;
  /** Status before (undefined: the task is new). */
  from: TaskStatus | undefined;
  /** Status after (undefined: the task is deleted). */
  to: TaskStatus | undefined;
}

/** A task created, changed or deleted: the node's task counts follow at once. */
export function taskStatusSpec<R>(
  call: (v: TaskCountVars) => Promise<R>,
  onFailure?: Fail<TaskCountVars>,
): OptimisticSpec<Graph, TaskCountVars, R, null> {
  return {
    call,
    apply: (g, v) => {
      const d = taskCountDelta(v.from, v.to);
      return { graph: adjustTaskCounts(g, v.componentId, d.total, d.open), ctx: null };
    },
    revert: (g, v) => {
      const d = taskCountDelta(v.from, v.to);
      return adjustTaskCounts(g, v.componentId, -d.total, -d.open);
    },
    onFailure,
  };
}
