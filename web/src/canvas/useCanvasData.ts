// The canvas's server state: the project graph query kept current by live events, and the
// optimistic mutations (each rolls back and reports the server's message on failure).
import { useEffect, useMemo, useRef } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { ApiError } from '../api/client';
import { useLiveEvents, useResync } from '../app/live';
import { canvasApi, graphKey, tasksKey } from './api';
import { applyLiveEvent } from './live';
import { LayoutSaver } from './layoutSaver';
import { movePositions, upsertComponent, type Graph, type Point, type Task } from './model';
import { optimisticOptions } from './optimistic';
import { deleteComponentSpec, linkSpec, taskStatusSpec, unlinkSpec, updateComponentSpec, type TaskCountVars } from './mutations';

/** Says what happened on the canvas; failures and refusals are `error`s. */
export type Report = (text: string, tone?: 'info' | 'error') => void;

export const errorText = (e: unknown) =>
  e instanceof ApiError ? e.detail : e instanceof Error ? e.message : String(e);

/** The graph query, patched by live events and refetched after the stream reconnects. */
export function useGraph(projectId: string) {
  const client = useQueryClient();
  const key = useMemo(() => graphKey(projectId), [projectId]);
  // Live events keep it current only while the canvas is open: refetch whenever it opens again
  // (the cached graph shows meanwhile).
  const query = useQuery({ queryKey: key, queryFn: () => canvasApi.graph(projectId), staleTime: 0 });

  // Task events only say that something changed: refetch the counts, at most every 300 ms.
  const refetchTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => () => {
    if (refetchTimer.current) clearTimeout(refetchTimer.current);
  }, []);
  const onEvent = (e: { kind: string; payload?: unknown }) => {
    const g = client.getQueryData<Graph>(key);
    if (!g) return;
    const out = applyLiveEvent(g, e);
    if (out.graph !== g) client.setQueryData(key, out.graph);
    if (out.tasksOf) {
      void client.invalidateQueries({ queryKey: tasksKey(out.tasksOf) });
      if (!refetchTimer.current) {
        refetchTimer.current = setTimeout(() => {
          refetchTimer.current = null;
          void client.invalidateQueries({ queryKey: key });
        }, 300);
      }
    }
  };
  useLiveEvents('tracker/events/components/#', onEvent);
  useLiveEvents('tracker/events/tasks/#', onEvent);
  useResync(() => {
    void client.invalidateQueries({ queryKey: key });
    void client.invalidateQueries({ queryKey: ['canvas', 'tasks'] });
  });
  return query;
}

/** Debounced, batched layout saving; rolls positions back and reports when a save fails. */
export function useLayoutSaver(projectId: string, report: Report) {
  const client = useQueryClient();
  const reportRef = useRef(report);
  reportRef.current = report;
  const saver = useMemo(() => {
    const key = graphKey(projectId);
    return new LayoutSaver({
      send: (positions) => canvasApi.saveLayout(projectId, positions),
      onSaved: (result) =>
        client.setQueryData<Graph>(key, (g) => (g ? result.components.reduce((acc, c) => upsertComponent(acc, c), g) : g)),
      onError: (error, previous) => {
        client.setQueryData<Graph>(key, (g) => (g ? movePositions(g, previous) : g));
        reportRef.current(`The layout was not saved: ${errorText(error)}`, 'error');
      },
    });
  }, [client, projectId]);
  useEffect(() => () => saver.dispose(), [saver]);
  return saver;
}

/** Moves in the cache at once (the saver persists them). */
export function moveInCache(client: ReturnType<typeof useQueryClient>, projectId: string, moves: Map<string, Point>) {
  client.setQueryData<Graph>(graphKey(projectId), (g) => (g ? movePositions(g, moves) : g));
}

export function useGraphMutations(projectId: string, report: Report) {
  const client = useQueryClient();
  const key = graphKey(projectId);
  const fail = (what: string) => (e: unknown) => report(`${what}: ${errorText(e)}`, 'error');
  const link = useMutation(optimisticOptions(client, key, linkSpec(canvasApi.link, fail('Dependency refused'))));
  const unlink = useMutation(optimisticOptions(client, key, unlinkSpec(canvasApi.unlink, fail('Dependency not removed'))));
  const remove = useMutation(optimisticOptions(client, key, deleteComponentSpec(canvasApi.deleteComponent, fail('Component not deleted'))));
  // Conflicts are shown by the side panel (reload or overwrite), other failures here.
  const update = useMutation(
    optimisticOptions(
      client,
      key,
      updateComponentSpec(canvasApi.updateComponent, (e) => {
        if (!(e instanceof ApiError && e.code === 'VERSION_CONFLICT')) fail('Component not saved')(e);
      }),
    ),
  );
  return { link, unlink, remove, update };
}

type TaskChange =
  | { op: 'create'; componentId: string; name: string }
  | { op: 'update'; componentId: string; task: Task; patch: Partial<Pick<Task, 'name' | 'status'>> }
  | { op: 'delete'; componentId: string; task: Task };

/**
 * Task changes: the task list and the node's counts change at once; both go back on failure.
 * `onConflict` is told when a task changed elsewhere (409).
 */
export function useTaskMutation(projectId: string, report: Report) {
  const client = useQueryClient();
  const key = graphKey(projectId);
  const patchList = (componentId: string, fn: (ts: Task[]) => Task[]) =>
    client.setQueryData<Task[]>(tasksKey(componentId), (ts) => (ts ? fn(ts) : ts));
  /** The task list changes before the request, so a checkbox flips at once. */
  const showNow = (c: TaskChange) => {
    if (c.op === 'update') patchList(c.componentId, (ts) => ts.map((x) => (x.id === c.task.id ? { ...x, ...c.patch } : x)));
    if (c.op === 'delete') patchList(c.componentId, (ts) => ts.filter((x) => x.id !== c.task.id));
  };
  const run = async (c: TaskChange): Promise<unknown> => {
    try {
      switch (c.op) {
        case 'create': {
          const t = await canvasApi.createTask(c.componentId, { name: c.name });
          patchList(c.componentId, (ts) => (ts.some((x) => x.id === t.id) ? ts : [t, ...ts]));
          return t;
        }
        case 'update': {
          const t = await canvasApi.updateTask(c.task.id, c.patch, c.task.version);
          patchList(c.componentId, (ts) => ts.map((x) => (x.id === t.id && x.version <= t.version ? t : x)));
          return t;
        }
        case 'delete':
          await canvasApi.deleteTask(c.task.id);
          return undefined;
      }
    } catch (e) {
      // Put the list back as the server has it.
      void client.invalidateQueries({ queryKey: tasksKey(c.componentId) });
      throw e;
    }
  };
  const counts = (c: TaskChange): TaskCountVars => {
    switch (c.op) {
      case 'create':
        return { componentId: c.componentId, from: undefined, to: 'todo' };
      case 'update':
        return { componentId: c.componentId, from: c.task.status, to: c.patch.status ?? c.task.status };
      case 'delete':
        return { componentId: c.componentId, from: c.task.status, to: undefined };
    }
  };
  const pending = useRef(new Map<TaskCountVars, TaskChange>());
  const mutation = useMutation(
    optimisticOptions(
      client,
      key,
      taskStatusSpec(
        (v) => {
          const change = pending.current.get(v)!;
          pending.current.delete(v);
          return run(change);
        },
        (e) =>
          report(
            e instanceof ApiError && e.code === 'VERSION_CONFLICT'
              ? 'That task was changed elsewhere — the list was reloaded; try again.'
              : `Task not saved: ${errorText(e)}`,
            'error',
          ),
      ),
    ),
  );
  return {
    isPending: mutation.isPending,
    mutate: (c: TaskChange) => {
      const v = counts(c);
      pending.current.set(v, c);
      showNow(c);
      return mutation.mutateAsync(v);
    },
  };
}
