import { describe, expect, it } from 'vitest';
import { ApiError } from '../../api/client';
import { formatBytes, percent, uploadArtifact, uploadError, uploadsReducer, uploadUrl, type XhrLike } from './upload';

class FakeXhr implements XhrLike {
  method = '';
  url = '';
  headers: Record<string, string> = {};
  body: Blob | null = null;
  status = 0;
  responseText = '';
  withCredentials = false;
  aborted = false;
  upload: XhrLike['upload'] = { onprogress: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;
  open(method: string, url: string) {
    this.method = method;
    this.url = url;
  }
  setRequestHeader(n: string, v: string) {
    this.headers[n] = v;
  }
  send(body: Blob) {
    this.body = body;
  }
  abort() {
    this.aborted = true;
    this.onabort?.();
  }
  respond(status: number, body: unknown) {
    this.status = status;
    this.responseText = typeof body === 'string' ? body : JSON.stringify(body);
    this.onload?.();
  }
}

const file = (name: string, size: number, type = 'text/plain') => new File([new Uint8Array(size)], name, { type });

describe('artifact upload', () => {
  it('posts the raw file with its name and type, reports progress, resolves with the artifact', async () => {
    const x = new FakeXhr();
    const seen: number[] = [];
    const p = uploadArtifact('p-1', file('a b.txt', 10), { xhr: () => x, onProgress: (e) => seen.push(e.loaded) });
    expect(x.method).toBe('POST');
    expect(x.url).toBe('/api/v1/projects/p-1/artifacts?name=a%20b.txt');
    expect(x.headers['Content-Type']).toBe('text/plain');
    expect(x.body?.size).toBe(10);
    x.upload.onprogress?.({ loaded: 4, total: 10, lengthComputable: true });
    x.respond(201, { id: 'a1', name: 'a b.txt', size: 10 });
    await expect(p).resolves.toMatchObject({ id: 'a1' });
    expect(seen).toEqual([4, 10]);
  });

  it('rejects with the server detail and code (413)', async () => {
    const x = new FakeXhr();
    const p = uploadArtifact('p', file('big.bin', 3, ''), { xhr: () => x });
    expect(x.headers['Content-Type']).toBe('application/octet-stream');
    x.respond(413, { detail: 'the file is larger than the limit of 2 bytes', code: 'PAYLOAD_TOO_LARGE' });
    const e = await p.catch((err: unknown) => err);
    expect(e).toBeInstanceOf(ApiError);
    expect((e as ApiError).status).toBe(413);
    expect((e as ApiError).code).toBe('PAYLOAD_TOO_LARGE');
    expect((e as ApiError).detail).toContain('limit of 2 bytes');
  });

  it('falls back to plain words for a non-JSON error, and reports network failure and cancel', async () => {
    expect(uploadError(413, '<html>too big</html>').detail).toMatch(/larger than the server accepts/);
    expect(uploadError(502, '').detail).toMatch(/HTTP 502/);
    const x = new FakeXhr();
    const p = uploadArtifact('p', file('f', 1), { xhr: () => x });
    x.onerror?.();
    await expect(p).rejects.toMatchObject({ code: 'NETWORK' });
    const ctl = new AbortController();
    const y = new FakeXhr();
    const q = uploadArtifact('p', file('f', 1), { xhr: () => y, signal: ctl.signal });
    ctl.abort();
    await expect(q).rejects.toMatchObject({ code: 'ABORTED' });
    expect(y.aborted).toBe(true);
  });

  it('encodes the project id and odd names in the URL', () => {
    expect(uploadUrl('x/y', 'r&d?.txt')).toBe('/api/v1/projects/x%2Fy/artifacts?name=r%26d%3F.txt');
  });
});

describe('upload progress state', () => {
  it('tracks each upload from start to done, never going backwards or past the size', () => {
    let s = uploadsReducer([], { type: 'start', key: 1, name: 'a', size: 100 });
    s = uploadsReducer(s, { type: 'start', key: 2, name: 'b', size: 10 });
    s = uploadsReducer(s, { type: 'progress', key: 1, loaded: 60, total: 100 });
    s = uploadsReducer(s, { type: 'progress', key: 1, loaded: 40, total: 100 });
    expect(s[0]).toMatchObject({ loaded: 60, status: 'uploading' });
    s = uploadsReducer(s, { type: 'progress', key: 1, loaded: 500, total: 100 });
    expect(s[0]!.loaded).toBe(100);
    expect(s[1]!.loaded).toBe(0);
    s = uploadsReducer(s, { type: 'done', key: 1 });
    expect(s[0]).toMatchObject({ status: 'done', loaded: 100 });
    // Progress after the end changes nothing.
    expect(uploadsReducer(s, { type: 'progress', key: 1, loaded: 1, total: 100 })[0]!.loaded).toBe(100);
    s = uploadsReducer(s, { type: 'failed', key: 2, error: new ApiError(413, 'PAYLOAD_TOO_LARGE', 'too big') });
    expect(s[1]).toMatchObject({ status: 'failed' });
    expect(s[1]!.error?.detail).toBe('too big');
    s = uploadsReducer(s, { type: 'failed', key: 1, error: new ApiError(0, 'ABORTED', 'Upload cancelled.') });
    expect(s[0]!.status).toBe('cancelled');
    s = uploadsReducer(s, { type: 'dismiss', key: 1 });
    expect(s.map((u) => u.key)).toEqual([2]);
  });

  it('percent and sizes', () => {
    expect(percent(0, 0)).toBe(0);
    expect(percent(5, 0)).toBe(100);
    expect(percent(1, 3)).toBe(33);
    expect(percent(4, 3)).toBe(100);
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KB');
    expect(formatBytes(200 * 1024 * 1024)).toBe('200 MB');
  });
});
