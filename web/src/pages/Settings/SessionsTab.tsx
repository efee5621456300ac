// My sessions: where I am signed in, with revoke (one, or all others). The current session is
// marked; ending it is signing out.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, ApiError, data } from '../../api/client';
import type { components } from '../../api/schema';
import { useSession } from '../../app/session';
import { Badge, ConfirmAction, Empty, ErrorMessage, Loading, timeAgo, useConfirm, useNotify, type ConfirmOptions } from '../../app/ui';
import { Time } from '../Events/shared';

type SessionInfo = components['schemas']['SessionInfo'];
const KEY = ['auth', 'sessions'] as const;

/** "Firefox on Linux"-ish summary of a user agent, or the raw string when unknown. */
export function describeAgent(ua: string | null | undefined): string {
  if (!ua) return 'Unknown client';
  const browser = /Edg\//.test(ua)
    ? 'Edge'
    : /Firefox\//.test(ua)
      ? 'Firefox'
      : /Chrom(e|ium)\//.test(ua)
        ? 'Chrome'
        : /Safari\//.test(ua)
          ? 'Safari'
          : /curl\//.test(ua)
            ? 'curl'
            : null;
  const os = /Android/.test(ua)
    ? 'Android'
    : /iPhone|iPad/.test(ua)
      ? 'iOS'
      : /Windows/.test(ua)
        ? 'Windows'
        : /Mac OS X/.test(ua)
          ? 'macOS'
          : /Linux/.test(ua)
            ? 'Linux'
            : null;
  if (!browser) return ua.length > 60 ? `${ua.slice(0, 57)}…` : ua;
  return os ? `${browser} on ${os}` : browser;
}

export function SessionsTab() {
  const qc = useQueryClient();
  const notify = useNotify();
  const { logout } = useSession();
  const [confirm, dialog] = useConfirm();
  const q = useQuery({ queryKey: KEY, queryFn: () => data(api.GET('/api/v1/auth/sessions')) });

  const revoke = useMutation({
    mutationFn: (id: string) => data(api.DELETE('/api/v1/auth/sessions/{session_id}', { params: { path: { session_id: id } } })),
    onSuccess: () => notify('Session revoked: that device is signed out.', 'ok'),
    onError: (e) => notify(`Revoking failed: ${e instanceof ApiError ? e.detail : String(e)}`, 'error'),
    onSettled: () => void qc.invalidateQueries({ queryKey: KEY }),
  });
  const revokeOthers = useMutation({
    mutationFn: () => data(api.DELETE('/api/v1/auth/sessions')),
    onSuccess: (r) => notify(`${r.message}.`, 'ok'),
    onError: (e) => notify(`Revoking failed: ${e instanceof ApiError ? e.detail : String(e)}`, 'error'),
    onSettled: () => void qc.invalidateQueries({ queryKey: KEY }),
  });

  // Ending the session in use is signing out; any other is revoked.
  const revokeQuestion = (s: SessionInfo): ConfirmOptions =>
    s.current
      ? { title: 'Sign out here?', message: 'This is the session you are using now.', confirmLabel: 'Sign out' }
      : {
          title: 'Revoke this session?',
          message: `${describeAgent(s.user_agent)} (${s.ip_address ?? 'unknown address'}) will be signed out.`,
          confirmLabel: 'Revoke',
          danger: true,
        };

  const others = q.data?.sessions.filter((s) => !s.current).length ?? 0;
  return (
    <section className="panel" aria-labelledby="sessions-h">
      {dialog}
      <div className="panel-head">
        <h2 id="sessions-h">My sessions</h2>
        <ConfirmAction
          variant="secondary"
          confirm={confirm}
          question={{
            title: 'Sign out everywhere else?',
            message: 'Every other session of yours ends; this one stays.',
            confirmLabel: 'Revoke others',
            danger: true,
          }}
          onConfirm={() => revokeOthers.mutate()}
          disabled={others === 0}
          busy={revokeOthers.isPending}
        >
          Sign out all other sessions
        </ConfirmAction>
      </div>
      {q.isPending && <Loading label="Loading sessions…" />}
      {q.isError && <ErrorMessage error={q.error} onRetry={() => void q.refetch()} />}
      {q.data && q.data.count === 0 && <Empty>No sessions (signed in with an API key?).</Empty>}
      {q.data && q.data.count > 0 && (
        <div className="table-wrap">
          <table className="data" aria-label="Sessions">
            <thead>
              <tr>
                <th scope="col">Client</th>
                <th scope="col">Address</th>
                <th scope="col">Signed in</th>
                <th scope="col">Last active</th>
                <th scope="col">Expires</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {q.data.sessions.map((s) => (
                <tr key={s.id} data-current={s.current || undefined}>
                  <td>
                    <span title={s.user_agent ?? undefined}>{describeAgent(s.user_agent)}</span>{' '}
                    {s.current && <Badge tone="ok">this session</Badge>}
                  </td>
                  <td className="mono">{s.ip_address ?? '—'}</td>
                  <td>
                    <Time iso={s.created_at} />
                  </td>
                  <td>{timeAgo(s.last_activity)}</td>
                  <td>
                    <Time iso={s.expires_at} />
                  </td>
                  <td className="actions">
                    <ConfirmAction
                      variant={s.current ? 'secondary' : 'danger'}
                      confirm={confirm}
                      question={revokeQuestion(s)}
                      onConfirm={() => {
                        if (s.current) void logout();
                        else revoke.mutate(s.id);
                      }}
                      busy={revoke.isPending && revoke.variables === s.id}
                    >
                      {s.current ? 'Sign out' : 'Revoke'}
                    </ConfirmAction>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
