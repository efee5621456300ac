// Artifact uploads with progress. `fetch` cannot report upload progress, so the file is sent with
// XMLHttpRequest (its `upload.onprogress`), as the raw body (`POST …/artifacts?name=`), which the
// server streams to the object store. Failures become the same `ApiError` the rest of the UI shows.
import { ApiError } from '../../api/client';
import type { components } from '../../api/schema';

export type Artifact = components['schemas']['ArtifactResponse'];

export interface UploadProgress {
  loaded: number;
  total: number;
}

/** The minimal XMLHttpRequest surface used here (so tests can drive a fake one). */
export interface XhrLike {
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  send(body: Blob): void;
  abort(): void;
  status: number;
  responseText: string;
  withCredentials: boolean;
  upload: { onprogress: ((e: { loaded: number; total: number; lengthComputable: boolean }) => void) | null };
  onload: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
}

export function uploadUrl(projectId: string, name: string): string {
  return `/api/v1/projects/${encodeURIComponent(projectId)}/artifacts?name=${encodeURIComponent(name)}`;
}

/** The server's `{detail, code}` for a failed upload, or a plain-words fallback by status. */
export function uploadError(status: number, body: string): ApiError {
  try {
    const j = JSON.parse(body) as { detail?: unknown; code?: unknown };
    if (typeof j.detail === 'string') return new ApiError(status, typeof j.code === 'string' ? j.code : `HTTP_${status}`, j.detail);
  } catch {
    // not JSON (a proxy's error page): fall through
  }
  const fallback: Record<number, string> = {
    401: 'Your session has ended; sign in again.',
    403: 'You may not upload files here.',
    404: 'The project no longer exists.',
    413: 'The file is larger than the server accepts.',
  };
  return new ApiError(status, `HTTP_${status}`, fallback[status] ?? `The upload failed (HTTP ${status}).`);
}

export function uploadArtifact(
  projectId: string,
  file: File,
  opts: { onProgress?: (p: UploadProgress) => void; signal?: AbortSignal; xhr?: () => XhrLike } = {},
): Promise<Artifact> {
  return new Promise((resolve, reject) => {
    const xhr = opts.xhr ? opts.xhr() : (new XMLHttpRequest() as unknown as XhrLike);
    xhr.open('POST', uploadUrl(projectId, file.name));
    xhr.withCredentials = true;
    xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
    xhr.upload.onprogress = (e) => opts.onProgress?.({ loaded: e.loaded, total: e.lengthComputable ? e.total : file.size });
    xhr.onload = () => {
      if (xhr.status === 201 || xhr.status === 200) {
        try {
          opts.onProgress?.({ loaded: file.size, total: file.size });
          resolve(JSON.parse(xhr.responseText) as Artifact);
        } catch {
          reject(new ApiError(xhr.status, 'BAD_RESPONSE', 'The server answered the upload with something unreadable.'));
        }
      } else {
        reject(uploadError(xhr.status, xhr.responseText));
      }
    };
    xhr.onerror = () =>
      reject(new ApiError(0, 'NETWORK', 'The upload was cut off: the server cannot be reached or closed the connection (a file over its size limit is refused this way by some proxies).'));
    xhr.onabort = () => reject(new ApiError(0, 'ABORTED', 'Upload cancelled.'));
    if (opts.signal) {
      if (opts.signal.aborted) {
        xhr.abort();
        return;
      }
      opts.signal.addEventListener('abort', () => xhr.abort(), { once: true });
    }
    xhr.send(file);
  });
}

// ---- The list of uploads shown under the drop zone --------------------------------------------

export type UploadStatus = 'uploading' | 'done' | 'failed' | 'cancelled';

export interface UploadItem {
  key: number;
  name: string;
  size: number;
  loaded: number;
  status: UploadStatus;
  error?: ApiError;
}

export type UploadAction =
  | { type: 'start'; key: number; name: string; size: number }
  | { type: 'progress'; key: number; loaded: number; total: number }
  | { type: 'done'; key: number }
  | { type: 'failed'; key: number; error: ApiError }
  | { type: 'dismiss'; key: number };

export function uploadsReducer(state: UploadItem[], a: UploadAction): UploadItem[] {
  switch (a.type) {
    case 'start':
      return [...state, { key: a.key, name: a.name, size: a.size, loaded: 0, status: 'uploading' }];
    case 'progress':
      return state.map((u) =>
        u.key === a.key && u.status === 'uploading'
          ? { ...u, size: a.total > 0 ? a.total : u.size, loaded: Math.max(u.loaded, Math.min(a.loaded, a.total > 0 ? a.total : a.loaded)) }
          : u,
      );
    case 'done':
      return state.map((u) => (u.key === a.key ? { ...u, loaded: u.size, status: 'done' } : u));
    case 'failed':
      return state.map((u) =>
        u.key === a.key ? { ...u, status: a.error.code === 'ABORTED' ? 'cancelled' : 'failed', error: a.error } : u,
      );
    case 'dismiss':
      return state.filter((u) => u.key !== a.key);
  }
}

/** Whole percent 0-100 (0 for an empty total, never above 100). */
export function percent(loaded: number, total: number): number {
  if (!(total > 0)) return loaded > 0 ? 100 : 0;
  return Math.min(100, Math.max(0, Math.floor((loaded / total) * 100)));
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}
