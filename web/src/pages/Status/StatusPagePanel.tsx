// A project's public status page, on the project's page: whether it is on and, for editors,
// turning it on (the link is shown once, to copy), a new link (the old one stops working) and
// turning it off (the link answers "not found" from then on).
import { useState } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { api, data } from '../../api/client';
import { useSession } from '../../app/session';
import { Button, ConfirmAction, ErrorMessage, timeAgo, useConfirm, useNotify } from '../../app/ui';
import './status.css';

export const statusPageKey = (projectId: string) => ['status-page', projectId] as const;

export function StatusPagePanel({ projectId }: { projectId: string }) {
  const { canEdit } = useSession();
  const qc = useQueryClient();
  const notify = useNotify();
  const [confirm, confirmDialog] = useConfirm();
  const [link, setLink] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const path = { params: { path: { project_id: projectId } } };
  const q = useQuery({
    queryKey: statusPageKey(projectId),
    queryFn: () => data(api.GET('/api/v1/projects/{project_id}/status-page', path)),
  });

  const run = async (action: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
      void qc.invalidateQueries({ queryKey: statusPageKey(projectId) });
    }
  };
  const enable = () =>
    run(async () => {
      const made = await data(api.POST('/api/v1/projects/{project_id}/status-page', path));
      setLink(`${window.location.origin}${made.page_path}`);
      notify(made.replaced ? 'New link made; the old one no longer works' : 'Status page on', 'ok');
    });
  const disable = () =>
    run(async () => {
      await api.DELETE('/api/v1/projects/{project_id}/status-page', path);
      setLink(null);
      notify('Status page off; its link no longer works', 'ok');
    });
  const copy = async () => {
    if (!link) return;
    try {
      await navigator.clipboard.writeText(link);
      notify('Link copied', 'ok');
    } catch {
      notify('Copying is not allowed here: select the link and copy it', 'error');
    }
  };

  const enabled = q.data?.enabled ?? false;
  return (
    <section className="panel sp-panel" aria-labelledby="sp-panel-title">
      <h2 id="sp-panel-title">Public status page</h2>
      <p className="muted">
        A read-only page with the state and uptime of this project's checked components, for anyone with its
        link (no sign-in): no addresses, check details or errors are shown.
      </p>
      {q.isError && <ErrorMessage error={q.error} onRetry={() => void q.refetch()} />}
      {q.data && (
        <p data-testid="status-page-state">
          {enabled ? (
            <>
              <b>On</b>
              {q.data.enabled_at && (
                <span className="muted"> since {timeAgo(q.data.enabled_at)}</span>
              )}
            </>
          ) : (
            <b>Off</b>
          )}
        </p>
      )}
      {link && (
        <div className="sp-link">
          <label>
            Link (shown only now: copy it; a lost link is replaced with “New link”)
            <input readOnly value={link} aria-label="Status page link" onFocus={(e) => e.currentTarget.select()} />
          </label>
          <div className="sp-link-actions">
            <Button variant="primary" onClick={() => void copy()}>
              Copy link
            </Button>
            <a className="btn btn-secondary" href={link} target="_blank" rel="noreferrer">
              Open
            </a>
          </div>
        </div>
      )}
      <ErrorMessage error={error} />
      {canEdit && q.data && (
        <div className="sp-panel-actions">
          {!enabled ? (
            <Button variant="primary" busy={busy} onClick={() => void enable()}>
              Turn on and get the link
            </Button>
          ) : (
            <>
              <ConfirmAction
                confirm={confirm}
                variant="secondary"
                busy={busy}
                question={{
                  title: 'Make a new link?',
                  message: 'The current link stops working at once; share the new one instead.',
                  confirmLabel: 'New link',
                }}
                onConfirm={() => void enable()}
              >
                New link
              </ConfirmAction>
              <ConfirmAction
                confirm={confirm}
                busy={busy}
                question={{
                  title: 'Turn the status page off?',
                  message: 'Its link will show “not found”. Turning it on again makes a new link.',
                  confirmLabel: 'Turn off',
                  danger: true,
                }}
                onConfirm={() => void disable()}
              >
                Turn off
              </ConfirmAction>
            </>
          )}
        </div>
      )}
      {confirmDialog}
    </section>
  );
}
