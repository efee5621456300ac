// Sign-in settings (admin): two-factor sign-in required of admins, password sign-in on or off
// (only with single sign-on and a break-glass account configured; the server says why not), and
// what the server is configured with.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, data } from '../../api/client';
import { Badge, ErrorMessage, Loading, useNotify } from '../../app/ui';

const KEY = ['auth', 'settings'] as const;

export function SignInTab() {
  const qc = useQueryClient();
  const notify = useNotify();
  const q = useQuery({ queryKey: KEY, queryFn: () => data(api.GET('/api/v1/auth/settings')) });
  const save = useMutation({
    mutationFn: (body: { password_sign_in?: boolean; second_factor_for_admins?: boolean }) =>
      data(api.PUT('/api/v1/auth/settings', { body })),
    onSuccess: (r) => {
      qc.setQueryData(KEY, r);
      notify('Sign-in settings saved.', 'ok');
    },
  });
  if (q.isPending) return <Loading />;
  if (q.isError) return <ErrorMessage error={q.error} onRetry={() => void q.refetch()} />;
  const s = q.data;
  return (
    <section className="panel" aria-labelledby="signin-h">
      <h2 id="signin-h">Sign-in</h2>
      <label className="check">
        <input
          type="checkbox"
          checked={s.second_factor_for_admins}
          disabled={save.isPending}
          onChange={(e) => save.mutate({ second_factor_for_admins: e.target.checked })}
        />
        Administrators must use two-factor sign-in (those without it set it up at their next sign-in)
      </label>
      <label className="check">
        <input
          type="checkbox"
          checked={s.password_sign_in}
          disabled={save.isPending}
          onChange={(e) => save.mutate({ password_sign_in: e.target.checked })}
        />
        Password sign-in (off: only single sign-on, and the break-glass accounts below)
      </label>
      {save.isError && <ErrorMessage error={save.error} />}
      <dl className="props">
        <dt>OpenID provider</dt>
        <dd>{s.oidc_provider ? <Badge tone="ok">{s.oidc_provider}</Badge> : <Badge>not configured</Badge>}</dd>
        <dt>Forward-auth proxy</dt>
        <dd>{s.forward_auth ? <Badge tone="ok">configured</Badge> : <Badge>not configured</Badge>}</dd>
        <dt>Break-glass accounts</dt>
        <dd>{s.break_glass_users.length ? s.break_glass_users.join(', ') : <span className="muted">none (TAYLORDASH_BREAK_GLASS_USERS)</span>}</dd>
      </dl>
    </section>
  );
}
