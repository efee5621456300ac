// The canvas's calls to the API and its query keys. Bodies and answers are typed by the OpenAPI
// schema's component types; the per-operation types are not used because several operations share
// an operation id (`get`, `update`, ...) in the generated document, which mixes their parameters.
// The shared client still runs every call (its middleware turns failures into `ApiError`).
import type { Client } from 'openapi-fetch';
import { api as typedApi, data } from '../api/client';
import type { components } from '../api/schema';
import type { Component, Dependency, Graph, Task } from './model';

type ComponentCreate = components['schemas']['ComponentCreate'];
type ComponentUpdate = components['schemas']['ComponentUpdate'];
type TaskCreate = components['schemas']['TaskCreate'];
type TaskUpdate = components['schemas']['TaskUpdate'];
type LayoutResult = components['schemas']['LayoutResult'];

export const graphKey = (projectId: string) => ['canvas', 'graph', projectId] as const;
export const tasksKey = (componentId: string) => ['canvas', 'tasks', componentId] as const;
export const projectKey = (projectId: string) => ['canvas', 'project', projectId] as const;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const api = typedApi as unknown as Client<any>;

const ifMatch = (version: number | undefined) => (version === undefined ? {} : { 'If-Match': `"${version}"` });

export const canvasApi = {
  project: (projectId: string): Promise<components['schemas']['ProjectResponse']> =>
    data<any>(api.GET('/api/v1/projects/{project_id}', { params: { path: { project_id: projectId } } })),
  projects: async (): Promise<components['schemas']['ProjectResponse'][]> => {
    const list = await data<any>(api.GET('/api/v1/projects', { params: { query: { limit: 100 } } }));
    return list.projects;
  },
  graph: (projectId: string): Promise<Graph> =>
    data<any>(api.GET('/api/v1/projects/{project_id}/graph', { params: { path: { project_id: projectId } } })),
  saveLayout: (projectId: string, positions: { component_id: string; x: number; y: number }[]): Promise<LayoutResult> =>
    data<any>(
      api.PUT('/api/v1/projects/{project_id}/layout', {
        params: { path: { project_id: projectId } },
        body: { positions },
      }),
    ),
  link: (componentId: string, dependsOnId: string): Promise<Dependency> =>
    data<any>(
      api.POST('/api/v1/components/{component_id}/dependencies', {
        params: { path: { component_id: componentId } },
        body: { depends_on_id: dependsOnId },
      }),
    ),
  unlink: (componentId: string, dependsOnId: string): Promise<void> =>
    data<any>(
      api.DELETE('/api/v1/components/{component_id}/dependencies/{depends_on_id}', {
        params: { path: { component_id: componentId, depends_on_id: dependsOnId } },
      }),
    ) as Promise<void>,
  createComponent: (projectId: string, body: ComponentCreate): Promise<Component> =>
    data<any>(api.POST('/api/v1/projects/{project_id}/components', { params: { path: { project_id: projectId } }, body })),
  /** `version` undefined overwrites whatever is stored. */
  updateComponent: (id: string, body: Omit<ComponentUpdate, 'version'>, version: number | undefined): Promise<Component> =>
    data<any>(
      api.PUT('/api/v1/components/{component_id}', {
        params: { path: { component_id: id }, header: ifMatch(version) },
        body,
      }),
    ),
  getComponent: (id: string): Promise<Component> =>
    data<any>(api.GET('/api/v1/components/{component_id}', { params: { path: { component_id: id } } })),
  deleteComponent: (id: string): Promise<void> =>
    data<any>(api.DELETE('/api/v1/components/{component_id}', { params: { path: { component_id: id } } })) as Promise<void>,
  tasks: async (componentId: string): Promise<Task[]> => {
    const list = await data<any>(
      api.GET('/api/v1/components/{component_id}/tasks', {
        params: { path: { component_id: componentId }, query: { limit: 200 } },
      }),
    );
    return list.tasks;
  },
  createTask: (componentId: string, body: TaskCreate): Promise<Task> =>
    data<any>(api.POST('/api/v1/components/{component_id}/tasks', { params: { path: { component_id: componentId } }, body })),
  updateTask: (id: string, body: Omit<TaskUpdate, 'version'>, version: number | undefined): Promise<Task> =>
    data<any>(
      api.PUT('/api/v1/tasks/{task_id}', {
        params: { path: { task_id: id }, header: ifMatch(version) },
        body,
      }),
    ),
  deleteTask: (id: string): Promise<void> =>
    data<any>(api.DELETE('/api/v1/tasks/{task_id}', { params: { path: { task_id: id } } })) as Promise<void>,
};
