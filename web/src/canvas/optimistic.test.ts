import { describe, expect, it } from 'vitest';
import { MutationObserver, QueryClient } from '@tanstack/react-query';
import { ApiError } from '../api/client';
import { optimisticOptions } from './optimistic';
import { addDependency, removeComponent, removeDependency, restoreComponent, type Dependency, type Graph, type GraphNode } from './model';
import { linkSpec, deleteComponentSpec, updateComponentSpec, taskStatusSpec } from './mutations';

const P = 'p1';
const key = ['canvas', 'graph', P];

function node(id: string, extra: Partial<GraphNode> = {}): GraphNode {
  return {
    id,
    project_id: P,
    name: id.toUpperCase(),
    type: 'service',
    status: 'pending',
    progress: 0,
    position: { x: 0, y: 0 },
    metadata: {},
    version: 1,
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
    task_count: 0,
    open_task_count: 0,
    ...extra,
  };
}
const dep = (component_id: string, depends_on_id: string): Dependency => ({
  component_id,
  depends_on_id,
  created_at: '2026-01-01T00:00:00Z',
});

function graph(): Graph {
  return { project_id: P, components: [node('a'), node('b'), node('c')], dependencies: [dep('b', 'a')] };
}

function setup() {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  client.setQueryData(key, graph());
  return client;
}

const cached = (client: QueryClient) => client.getQueryData<Graph>(key)!;

/** A request that is answered when the test says so. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('optimistic dependency', () => {
  it('shows the edge at once and keeps it when the server agrees', async () => {
    const client = setup();
    const req = deferred<Dependency>();
    const obs = new MutationObserver(client, optimisticOptions(client, key, linkSpec(() => req.promise)));
    const done = obs.mutate({ componentId: 'c', dependsOnId: 'b' });
    await new Promise((r) => setTimeout(r, 0));
    expect(cached(client).dependencies.map((d) => `${d.component_id}<-${d.depends_on_id}`)).toEqual(['b<-a', 'c<-b']);
    req.resolve(dep('c', 'b'));
    await done;
    expect(cached(client).dependencies).toHaveLength(2);
  });

  it('rolls the edge back on a refused cycle and reports the server detail', async () => {
    const client = setup();
    const failures: string[] = [];
    const req = deferred<Dependency>();
    const obs = new MutationObserver(
      client,
      optimisticOptions(client, key, linkSpec(() => req.promise, (e) => failures.push((e as ApiError).detail))),
    );
    const done = obs.mutate({ componentId: 'a', dependsOnId: 'b' }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 0));
    expect(cached(client).dependencies).toHaveLength(2);
    // Meanwhile another client's change arrives live: the rollback must not lose it.
    client.setQueryData<Graph>(key, (g) => addDependency(g!, dep('c', 'a')));
    req.reject(new ApiError(409, 'DEPENDENCY_CYCLE', 'this dependency would create a cycle: A → B → A'));
    await done;
    const ids = cached(client).dependencies.map((d) => `${d.component_id}<-${d.depends_on_id}`);
    expect(ids).toEqual(['b<-a', 'c<-a']);
    expect(failures).toEqual(['this dependency would create a cycle: A → B → A']);
  });

  it('does not add a duplicate edge and does not remove the existing one on failure', async () => {
    const client = setup();
    const obs = new MutationObserver(
      client,
      optimisticOptions(client, key, linkSpec(() => Promise.reject(new ApiError(409, 'DEPENDENCY_EXISTS', 'exists')))),
    );
    await obs.mutate({ componentId: 'b', dependsOnId: 'a' }).catch(() => undefined);
    expect(cached(client).dependencies).toEqual([dep('b', 'a')]);
  });
});

describe('optimistic component delete', () => {
  it('removes the node with its edges and puts both back in place on failure', async () => {
    const client = setup();
    const before = cached(client);
    const req = deferred<void>();
    const obs = new MutationObserver(client, optimisticOptions(client, key, deleteComponentSpec(() => req.promise)));
    const done = obs.mutate({ id: 'a' }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 0));
    expect(cached(client).components.map((n) => n.id)).toEqual(['b', 'c']);
    expect(cached(client).dependencies).toEqual([]);
    req.reject(new ApiError(403, 'FORBIDDEN', 'no'));
    await done;
    expect(cached(client).components.map((n) => n.id)).toEqual(['a', 'b', 'c']);
    expect(cached(client).dependencies).toEqual(before.dependencies);
  });
});

describe('optimistic component edit', () => {
  it('applies the fields, then takes the server version on success', async () => {
    const client = setup();
    const obs = new MutationObserver(
      client,
      optimisticOptions(
        client,
        key,
        updateComponentSpec((id, body) => Promise.resolve({ ...node(id), ...body, version: 2 })),
      ),
    );
    await obs.mutate({ id: 'b', body: { name: 'Renamed', status: 'blocked' }, version: 1 });
    const b = cached(client).components.find((n) => n.id === 'b')!;
    expect(b).toMatchObject({ name: 'Renamed', status: 'blocked', version: 2 });
  });

  it('puts the old fields back on a version conflict, but keeps fields changed meanwhile', async () => {
    const client = setup();
    const req = deferred<GraphNode>();
    const obs = new MutationObserver(client, optimisticOptions(client, key, updateComponentSpec(() => req.promise)));
    const done = obs.mutate({ id: 'b', body: { name: 'Mine' }, version: 1 }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 0));
    expect(cached(client).components[1]!.name).toBe('Mine');
    client.setQueryData<Graph>(key, (g) => ({
      ...g!,
      components: g!.components.map((n) => (n.id === 'b' ? { ...n, progress: 40 } : n)),
    }));
    req.reject(new ApiError(409, 'VERSION_CONFLICT', 'changed elsewhere'));
    await done;
    expect(cached(client).components[1]).toMatchObject({ name: 'B', progress: 40 });
  });
});

describe('optimistic task completion', () => {
  it('updates the node counts at once and undoes them on failure', async () => {
    const client = new QueryClient({ defaultOptions: { mutations: { retry: false } } });
    client.setQueryData(key, { ...graph(), components: [node('a', { task_count: 3, open_task_count: 2 })] });
    const ok = new MutationObserver(
      client,
      optimisticOptions(client, key, taskStatusSpec(() => Promise.resolve(undefined))),
    );
    await ok.mutate({ componentId: 'a', from: 'todo', to: 'done' });
    expect(cached(client).components[0]).toMatchObject({ task_count: 3, open_task_count: 1 });
    const bad = new MutationObserver(
      client,
      optimisticOptions(client, key, taskStatusSpec(() => Promise.reject(new ApiError(500, 'X', 'x')))),
    );
    await bad.mutate({ componentId: 'a', from: 'todo', to: 'done' }).catch(() => undefined);
    expect(cached(client).components[0]).toMatchObject({ task_count: 3, open_task_count: 1 });
  });
});

describe('model helpers keep untouched objects', () => {
  it('remove then restore gives an equal graph and the same node objects', () => {
    const g = graph();
    const r = removeComponent(g, 'b');
    const back = restoreComponent(r.graph, r.node!, r.dependencies, 1);
    expect(back).toEqual(g);
    expect(back.components[0]).toBe(g.components[0]);
    expect(removeDependency(g, 'x', 'y')).toBe(g);
  });
});
