// Live events from other clients (and echoes of our own changes) folded into the cached graph.
// Component and dependency events carry everything needed and patch the graph in place; task
// events do not say what the task's status was before, so they ask for a refetch of the counts.
import type { LiveEvent } from '../live/stream';
import type { Component, Graph } from './model';
import { addDependency, removeComponent, removeDependency, upsertComponent } from './model';

/** The topics the canvas listens to. */
export const CANVAS_TOPICS = ['tracker/events/components/#', 'tracker/events/tasks/#'];

export interface LiveOutcome {
  graph: Graph;
  /** A component whose task list changed (refetch its tasks and the graph's counts). */
  tasksOf?: string;
}

type Payload = Record<string, unknown>;

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

/** A nullable text field of an event: its value, null when cleared, `old` when not sent. */
function field(p: Payload, key: string, old: string | null | undefined): string | null {
  if (!(key in p)) return old ?? null;
  return str(p[key]) ?? null;
}

function point(v: unknown): { x: number; y: number } | null {
  if (v && typeof v === 'object') {
    const { x, y } = v as { x?: unknown; y?: unknown };
    if (typeof x === 'number' && typeof y === 'number') return { x, y };
  }
  return null;
}

/** Applies one event to `graph` (of project `graph.project_id`); unrelated events change nothing. */
export function applyLiveEvent(graph: Graph, event: { kind: LiveEvent['kind']; payload?: unknown }): LiveOutcome {
  const p = (event.payload ?? {}) as Payload;
  const componentId = str(p.component_id);
  switch (event.kind) {
    case 'component.created':
    case 'component.updated': {
      if (str(p.project_id) !== graph.project_id || !componentId) return { graph };
      const old = graph.components.find((n) => n.id === componentId);
      const version = num(p.version);
      if (version === undefined) return { graph };
      const ts = str(p.timestamp) ?? new Date().toISOString();
      const c: Component = {
        id: componentId,
        project_id: graph.project_id,
        name: str(p.name) ?? old?.name ?? '',
        type: p.type === null ? null : (str(p.type) ?? old?.type ?? null),
        status: (str(p.status) as Component['status']) ?? old?.status ?? 'pending',
        progress: num(p.progress) ?? old?.progress ?? 0,
        position: point(p.position),
        // The event carries url, host and icon (null: cleared); not the description.
        url: field(p, 'url', old?.url),
        host: field(p, 'host', old?.host),
        icon: field(p, 'icon', old?.icon),
        description: old?.description ?? null,
        metadata: old?.metadata ?? {},
        version,
        created_at: old?.created_at ?? ts,
        updated_at: ts,
      };
      return { graph: upsertComponent(graph, c) };
    }
    case 'component.deleted':
      if (str(p.project_id) !== graph.project_id || !componentId) return { graph };
      return { graph: removeComponent(graph, componentId).graph };
    case 'component.linked':
    case 'component.unlinked': {
      const dependsOn = str(p.depends_on_id);
      if (str(p.project_id) !== graph.project_id || !componentId || !dependsOn) return { graph };
      if (event.kind === 'component.unlinked') return { graph: removeDependency(graph, componentId, dependsOn) };
      if (!graph.components.some((n) => n.id === componentId) || !graph.components.some((n) => n.id === dependsOn)) {
        return { graph };
      }
      return {
        graph: addDependency(graph, {
          component_id: componentId,
          depends_on_id: dependsOn,
          created_at: str(p.timestamp) ?? new Date().toISOString(),
        }),
      };
    }
    case 'task.created':
    case 'task.updated':
    case 'task.deleted':
      if (!componentId || !graph.components.some((n) => n.id === componentId)) return { graph };
      return { graph, tasksOf: componentId };
    default:
      return { graph };
  }
}
