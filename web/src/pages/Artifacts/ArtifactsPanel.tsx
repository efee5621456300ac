// Files attached to a project: upload (with progress), list (paged), download, delete.
// Editors and admins upload and delete; viewers only list and download.
import { useReducer, useRef, useState, type DragEvent } from 'react';
import { keepPreviousData, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, data } from '../../api/client';
import { useSession } from '../../app/session';
import { useLiveEvents } from '../../app/live';
import { Button, ConfirmAction, Empty, ErrorMessage, Loading, timeAgo, useConfirm, useNotify } from '../../app/ui';
import { formatBytes, percent, uploadArtifact, uploadsReducer, type Artifact, type UploadItem } from './upload';
import './artifacts.css';

export const ARTIFACTS_PAGE = 20;

export const artifactsKey = (projectId: string) => ['artifacts', projectId] as const;

export function ArtifactsPanel({ projectId }: { projectId: string }) {
  const { canEdit } = useSession();
  const qc = useQueryClient();
  const notify = useNotify();
  const [confirm, confirmDialog] = useConfirm();
  const [offset, setOffset] = useState(0);
  const [uploads, dispatch] = useReducer(uploadsReducer, []);
  const [deleteError, setDeleteError] = useState<unknown>(null);
  const nextKey = useRef(1);
  const aborts = useRef(new Map<number, AbortController>());
  const input = useRef<HTMLInputElement>(null);
  const [dragging, setDragging] = useState(false);

  const q = useQuery({
    queryKey: [...artifactsKey(projectId), offset],
    queryFn: () =>
      data(
        api.GET('/api/v1/projects/{project_id}/artifacts', {
          params: { path: { project_id: projectId }, query: { limit: ARTIFACTS_PAGE, offset } },
        }),
      ),
    placeholderData: keepPreviousData,
  });
  const refresh = () => void qc.invalidateQueries({ queryKey: artifactsKey(projectId) });
  // Uploads and deletions made elsewhere (another tab, the API) arrive as events.
  useLiveEvents('#', (e) => {
    const payload = e.payload as { project_id?: unknown } | null;
    if (e.kind.startsWith('artifact.') && payload?.project_id === projectId) refresh();
  });

  const upload = (files: FileList | File[]) => {
    for (const file of Array.from(files)) {
      const key = nextKey.current++;
      dispatch({ type: 'start', key, name: file.name, size: file.size });
      const abort = new AbortController();
      aborts.current.set(key, abort);
      uploadArtifact(projectId, file, {
        onProgress: (p) => dispatch({ type: 'progress', key, loaded: p.loaded, total: p.total }),
        signal: abort.signal,
      })
        .finally(() => aborts.current.delete(key))
        .then(
          (a) => {
            dispatch({ type: 'done', key });
            notify(`Uploaded “${a.name}”`, 'ok');
            setOffset(0);
            refresh();
            setTimeout(() => dispatch({ type: 'dismiss', key }), 4000);
          },
          (error) => dispatch({ type: 'failed', key, error }),
        );
    }
  };

  const remove = async (a: Artifact) => {
    setDeleteError(null);
    try {
      await api.DELETE('/api/v1/artifacts/{artifact_id}', { params: { path: { artifact_id: a.id } } });
      notify(`Deleted “${a.name}”`, 'ok');
      if (q.data && q.data.count === 1 && offset > 0) setOffset(Math.max(0, offset - ARTIFACTS_PAGE));
      refresh();
    } catch (e) {
      setDeleteError(e);
    }
  };

  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setDragging(false);
    if (canEdit && e.dataTransfer.files.length) upload(e.dataTransfer.files);
  };

  const total = q.data?.total ?? 0;
  return (
    <section className="panel af-panel" aria-labelledby="artifacts-title">
      <header className="af-head">
        <h2 id="artifacts-title">Files</h2>
        {q.data && <span className="muted">{total === 0 ? 'none yet' : `${total} file${total === 1 ? '' : 's'}`}</span>}
      </header>
      {canEdit && (
        <div
          className={`af-drop${dragging ? ' af-dragging' : ''}`}
          onDragOver={(e) => {
            e.preventDefault();
            setDragging(true);
          }}
          onDragLeave={() => setDragging(false)}
          onDrop={onDrop}
        >
          <input
            ref={input}
            id="artifact-file"
            aria-label="Choose files to upload"
            tabIndex={-1}
            type="file"
            multiple
            className="sr-only"
            onChange={(e) => {
              if (e.target.files?.length) upload(e.target.files);
              e.target.value = '';
            }}
          />
          <Button variant="primary" onClick={() => input.current?.click()}>
            Upload files…
          </Button>
          <span className="muted">or drop files here</span>
        </div>
      )}
      {uploads.length > 0 && (
        <ul className="af-uploads" aria-label="Uploads">
          {uploads.map((u) => (
            <UploadRow
              key={u.key}
              u={u}
              onCancel={() => aborts.current.get(u.key)?.abort()}
              onDismiss={() => dispatch({ type: 'dismiss', key: u.key })}
            />
          ))}
        </ul>
      )}
      <ErrorMessage error={deleteError} />
      {q.isPending && <Loading label="Loading files…" />}
      {q.isError && <ErrorMessage error={q.error} onRetry={() => void q.refetch()} />}
      {q.data &&
        (q.data.artifacts.length === 0 ? (
          <Empty>{canEdit ? 'No files yet: upload the first one.' : 'No files attached to this project.'}</Empty>
        ) : (
          <div className="af-table-wrap">
            <table className="af-table">
              <caption className="sr-only">Files of this project, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Size</th>
                  <th scope="col">Type</th>
                  <th scope="col">Uploaded</th>
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {q.data.artifacts.map((a) => (
                  <tr key={a.id}>
                    <td className="af-name">
                      <a href={a.download_url} download={a.name} title={`SHA-256 ${a.sha256}`}>
                        {a.name}
                      </a>
                    </td>
                    <td className="af-num">{formatBytes(a.size)}</td>
                    <td className="muted">{a.content_type}</td>
                    <td>
                      <time dateTime={a.created_at} title={new Date(a.created_at).toLocaleString()}>
                        {timeAgo(a.created_at)}
                      </time>
                    </td>
                    <td className="af-actions">
                      <a className="btn btn-secondary" href={a.download_url} download={a.name} aria-label={`Download ${a.name}`}>
                        Download
                      </a>
                      {canEdit && (
                        <ConfirmAction
                          variant="ghost"
                          confirm={confirm}
                          question={{
                            title: `Delete “${a.name}”?`,
                            message: `The file (${formatBytes(a.size)}) is removed from storage. This cannot be undone.`,
                            confirmLabel: 'Delete',
                            danger: true,
                          }}
                          onConfirm={() => void remove(a)}
                          aria-label={`Delete ${a.name}`}
                        >
                          Delete
                        </ConfirmAction>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ))}
      {q.data && total > ARTIFACTS_PAGE && (
        <nav className="af-pager" aria-label="File pages">
          <Button onClick={() => setOffset(Math.max(0, offset - ARTIFACTS_PAGE))} disabled={offset === 0}>
            Previous
          </Button>
          <span className="muted">
            {offset + 1}–{offset + q.data.count} of {total}
          </span>
          <Button onClick={() => setOffset(offset + ARTIFACTS_PAGE)} disabled={offset + q.data.count >= total}>
            Next
          </Button>
        </nav>
      )}
      {confirmDialog}
    </section>
  );
}

function UploadRow({ u, onCancel, onDismiss }: { u: UploadItem; onCancel: () => void; onDismiss: () => void }) {
  const p = percent(u.loaded, u.size);
  return (
    <li className={`af-upload af-${u.status}`} data-status={u.status}>
      <div className="af-upload-line">
        <span className="af-upload-name">{u.name}</span>
        <span className="muted">
          {u.status === 'uploading' && `${formatBytes(u.loaded)} of ${formatBytes(u.size)} · ${p}%`}
          {u.status === 'done' && 'Uploaded'}
          {u.status === 'cancelled' && 'Cancelled'}
          {u.status === 'failed' && 'Failed'}
        </span>
        {u.status === 'uploading' && (
          <Button variant="ghost" onClick={onCancel} aria-label={`Cancel upload of ${u.name}`}>
            Cancel
          </Button>
        )}
        {u.status !== 'uploading' && (
          <Button variant="ghost" onClick={onDismiss} aria-label={`Dismiss ${u.name}`}>
            ✕
          </Button>
        )}
      </div>
      {(u.status === 'uploading' || u.status === 'done') && (
        <progress max={100} value={p} aria-label={`Upload of ${u.name}`}>
          {p}%
        </progress>
      )}
      {u.status === 'failed' && <ErrorMessage error={u.error} />}
    </li>
  );
}
