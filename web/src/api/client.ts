// The one HTTP client of the UI: typed from the OpenAPI document (`npm run gen:api`), same-origin
// only, session cookie sent by the browser. Paths are the document's full paths
// (`api.GET('/api/v1/projects')`). Every failed call throws an `ApiError` carrying the server's
// `detail` and `code`, so screens can show the server's own words.
import createClient, { type Middleware } from 'openapi-fetch';
import type { paths } from './schema';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly detail: string;

  constructor(status: number, code: string, detail: string) {
    super(detail);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.detail = detail;
  }

  /** Network failure or a server that is not there: no HTTP status at all. */
  static offline(cause: unknown): ApiError {
    const message = cause instanceof Error ? cause.message : String(cause);
    return new ApiError(0, 'NETWORK', `The server cannot be reached (${message}).`);
  }
}

/** Listeners told about 401s (session gone) so the app can send the user to the login page. */
const unauthorizedListeners = new Set<() => void>();
export function onUnauthorized(listener: () => void): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

/** When the server last answered an authenticated call: each one slides the session forward. */
let lastActivityAt = 0;
export function lastActivity(): number {
  return lastActivityAt;
}

const errors: Middleware = {
  async onResponse({ response }) {
    if (response.ok) {
      lastActivityAt = Date.now();
      return undefined;
    }
    let code = `HTTP_${response.status}`;
    let detail = response.statusText || 'Request failed';
    try {
      const body = (await response.clone().json()) as { code?: unknown; detail?: unknown };
      if (typeof body.code === 'string') code = body.code;
      if (typeof body.detail === 'string') detail = body.detail;
    } catch {
      // Not JSON (a proxy error page, say): keep the status line.
    }
    if (response.status === 401) unauthorizedListeners.forEach((l) => l());
    throw new ApiError(response.status, code, detail);
  },
  onError({ error }) {
    if (error instanceof ApiError) return error;
    return ApiError.offline(error);
  },
};

export const api = createClient<paths>({ baseUrl: '', credentials: 'same-origin' });
api.use(errors);

/** Unwraps an openapi-fetch result whose errors were already thrown by the middleware. */
export async function data<T>(call: Promise<{ data?: T; response: Response }>): Promise<T> {
  const { data: body, response } = await call;
  if (body === undefined && response.status !== 204) {
    throw new ApiError(response.status, 'EMPTY_RESPONSE', 'The server sent no body.');
  }
  return body as T;
}

/** The version in an ETag (`"3"`), for `If-Match` on updates. */
export function etagVersion(response: Response): number | undefined {
  const tag = response.headers.get('ETag');
  const n = tag ? Number(tag.replaceAll('"', '').replace(/^W\//, '')) : NaN;
  return Number.isFinite(n) ? n : undefined;
}
