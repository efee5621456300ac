// The checks' calls to the API, their query keys, and `useProjectChecks`: a project's check
// summary kept current by the live stream (a state change patches it at once; any other check
// event, and a reconnect, refetch it).
import { useEffect, useMemo, useRef } from 'react';
import type { Client } from 'openapi-fetch';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { api as typedApi, data } from '../api/client';
import type { components } from '../api/schema';
import { useLiveEvents, useResync } from '../app/live';
import { applyCheckEvent, type ProjectChecks } from './status';

export type Check = components['schemas']['CheckResponse'];
export type CheckCreate = components['schemas']['CheckCreate'];
export type CheckCreated = components['schemas']['CheckCreated'];
export type CheckUpdate = components['schemas']['CheckUpdate'];
export type CheckOutcome = components['schemas']['CheckOutcome'];
export type CheckHistory = components['schemas']['CheckHistory'];
export type CheckUptime = components['schemas']['CheckUptime'];

export const projectChecksKey = (projectId: string) => ['checks', 'project', projectId] as const;
export const componentChecksKey = (componentId: string) => ['checks', 'component', componentId] as const;
export const historyKey = (checkId: string, hours: number) => ['checks', 'history', checkId, hours] as const;
export const uptimeKey = (checkId: string) => ['checks', 'uptime', checkId] as const;

// Several operations share an operation id in the document, which mixes their parameters in the
// generated per-operation types; the bodies and answers are typed by the schema's components.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const api = typedApi as unknown as Client<any>;
const path = (component_id: string) => ({ params: { path: { component_id } } });
const checkPath = (check_id: string) => ({ params: { path: { check_id } } });

export const checksApi = {
  project: (projectId: string): Promise<ProjectChecks> =>
    data<any>(api.GET('/api/v1/projects/{project_id}/checks', { params: { path: { project_id: projectId } } })),
  list: async (componentId: string): Promise<Check[]> =>
    (await data<any>(api.GET('/api/v1/components/{component_id}/checks', path(componentId)))).checks,
  create: (componentId: string, body: CheckCreate): Promise<CheckCreated> =>
    data<any>(api.POST('/api/v1/components/{component_id}/checks', { ...path(componentId), body })),
  testUnsaved: (componentId: string, body: CheckCreate): Promise<CheckOutcome> =>
    data<any>(api.POST('/api/v1/components/{component_id}/checks/test', { ...path(componentId), body })),
  update: (checkId: string, body: CheckUpdate): Promise<Check> =>
    data<any>(api.PUT('/api/v1/checks/{check_id}', { ...checkPath(checkId), body })),
  remove: (checkId: string): Promise<void> => data<any>(api.DELETE('/api/v1/checks/{check_id}', checkPath(checkId))) as Promise<void>,
  testSaved: (checkId: string): Promise<CheckOutcome> => data<any>(api.POST('/api/v1/checks/{check_id}/test', checkPath(checkId))),
  rotatePushToken: (checkId: string): Promise<{ push_path: string }> =>
    data<any>(api.POST('/api/v1/checks/{check_id}/push-token', checkPath(checkId))),
  history: (checkId: string, hours: number): Promise<CheckHistory> =>
    data<any>(api.GET('/api/v1/checks/{check_id}/history', { params: { path: { check_id: checkId }, query: { hours, limit: 5000 } } })),
  uptime: (checkId: string): Promise<CheckUptime> => data<any>(api.GET('/api/v1/checks/{check_id}/uptime', checkPath(checkId))),
};

/**
 * Keeps the check summaries of `projectIds` current from the live stream: a `check.<state>`
 * event patches its project's summary at once (then refetches it for the day's uptime); check
 * changes (created, updated, deleted; these do not name the project) refetch them all, at most
 * every 300 ms; a reconnect refetches them.
 */
export function useLiveChecks(projectIds: readonly string[]) {
  const client = useQueryClient();
  const ids = useRef(projectIds);
  ids.current = projectIds;
  const pending = useRef(new Set<string>());
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(
    () => () => {
      if (timer.current) clearTimeout(timer.current);
    },
    [],
  );
  const refetchSoon = (which: readonly string[]) => {
    for (const id of which) pending.current.add(id);
    if (timer.current) return;
    timer.current = setTimeout(() => {
      timer.current = null;
      const due = [...pending.current];
      pending.current.clear();
      for (const id of due) void client.invalidateQueries({ queryKey: projectChecksKey(id) });
    }, 300);
  };
  useLiveEvents('tracker/events/checks/#', (e) => {
    const p = (e.payload ?? {}) as { project_id?: unknown };
    const project = typeof p.project_id === 'string' ? p.project_id : null;
    if (project === null) {
      refetchSoon(ids.current);
      return;
    }
    if (!ids.current.includes(project)) return;
    const key = projectChecksKey(project);
    const summary = client.getQueryData<ProjectChecks>(key);
    if (summary) {
      const next = applyCheckEvent(summary, e);
      if (next !== summary) client.setQueryData(key, next);
    }
    refetchSoon([project]);
  });
  useResync(() => {
    for (const id of ids.current) void client.invalidateQueries({ queryKey: projectChecksKey(id) });
  });
}

/** How often summaries are refetched between events (latencies and the day's uptime move). */
export const SUMMARY_POLL_MS = 60_000;

/** A project's check summary, kept current (`useLiveChecks`). */
export function useProjectChecks(projectId: string) {
  const key = useMemo(() => projectChecksKey(projectId), [projectId]);
  const ids = useMemo(() => [projectId], [projectId]);
  useLiveChecks(ids);
  return useQuery({ queryKey: key, queryFn: () => checksApi.project(projectId), staleTime: 0, refetchInterval: SUMMARY_POLL_MS });
}
