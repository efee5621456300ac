// Typed calls for operations whose generated types are wrong: the OpenAPI document reuses
// operation ids (`list`, `get`, `create`, `update`, `delete` for several routes), so the
// generated `operations` entries merge and e.g. `GET /events` is typed as the audit list.
// Until the ids are unique, these calls name their response type from `components` themselves.
// Errors still go through the client's middleware (`ApiError` with the server's detail).
import { api, data } from '../../api/client';
import type { components } from '../../api/schema';

export type Schemas = components['schemas'];

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';
interface Init {
  params?: { path?: Record<string, string | number>; query?: Record<string, string | number | boolean | undefined> };
  body?: unknown;
}
type Loose = Record<Method, (path: string, init?: Init) => Promise<{ data?: unknown; response: Response }>>;

export function apiCall<T>(method: Method, path: string, init?: Init): Promise<T> {
  const client = api as unknown as Loose;
  return data(client[method](path, init)) as Promise<T>;
}
