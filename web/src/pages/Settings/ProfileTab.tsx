// Profile: who am I, and changing my password (current password required; the server's policy
// message is shown as it is).
import { useState, type FormEvent } from 'react';
import { useMutation } from '@tanstack/react-query';
import { api, data } from '../../api/client';
import { useSession } from '../../app/session';
import { Badge, Button, ErrorMessage, useNotify } from '../../app/ui';
import { Field, Time } from '../Events/shared';

export function ProfileTab() {
  const { user } = useSession();
  if (!user) return null;
  return (
    <>
      <section className="panel" aria-labelledby="profile-h">
        <h2 id="profile-h">Profile</h2>
        <dl className="props">
          <dt>User name</dt>
          <dd data-testid="profile-username">{user.username}</dd>
          <dt>Role</dt>
          <dd>
            <Badge tone="info">{user.role}</Badge>
          </dd>
          <dt>Kiosk mode</dt>
          <dd>{user.single_view_mode ? `on (view: ${user.default_view || 'dashboard'})` : 'off'}</dd>
          <dt>Default view</dt>
          <dd>{user.default_view || '—'}</dd>
          <dt>Member since</dt>
          <dd>
            <Time iso={user.created_at} />
          </dd>
          <dt>Last sign-in</dt>
          <dd>
            <Time iso={user.last_login} />
          </dd>
        </dl>
      </section>
      <PasswordForm username={user.username} />
    </>
  );
}

function PasswordForm({ username }: { username: string }) {
  const notify = useNotify();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [again, setAgain] = useState('');
  const [local, setLocal] = useState<{ next?: string; again?: string }>({});
  const [done, setDone] = useState<string | null>(null);
  const change = useMutation({
    mutationFn: () =>
      data(api.PUT('/api/v1/auth/me/password', { body: { current_password: current, new_password: next } })),
    onMutate: () => setDone(null),
    onSuccess: (r) => {
      setCurrent('');
      setNext('');
      setAgain('');
      setDone(r.message);
      notify(r.message, 'ok');
    },
  });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const errs: typeof local = {};
    if (next.length < 12) errs.next = 'At least 12 characters.';
    else if (next.toLowerCase() === username.toLowerCase()) errs.next = 'The password cannot be your user name.';
    if (again !== next) errs.again = 'The two new passwords differ.';
    setLocal(errs);
    if (Object.keys(errs).length) return;
    change.mutate();
  };

  return (
    <section className="panel" aria-labelledby="password-h">
      <h2 id="password-h">Change password</h2>
      <form onSubmit={submit} className="stack-form" aria-describedby="password-policy">
        <p id="password-policy" className="muted">
          12 to 1024 characters, not a common password. Your other sessions end; this one stays signed in.
        </p>
        <Field label="Current password">
          {(p) => (
            <input {...p} type="password" autoComplete="current-password" required value={current} onChange={(e) => setCurrent(e.target.value)} />
          )}
        </Field>
        <Field label="New password" error={local.next}>
          {(p) => <input {...p} type="password" autoComplete="new-password" required value={next} onChange={(e) => setNext(e.target.value)} />}
        </Field>
        <Field label="New password again" error={local.again}>
          {(p) => <input {...p} type="password" autoComplete="new-password" required value={again} onChange={(e) => setAgain(e.target.value)} />}
        </Field>
        {change.isError && <ErrorMessage error={change.error} />}
        {done && (
          <p className="callout callout-ok" role="status">
            {done}.
          </p>
        )}
        <div className="form-actions">
          <Button type="submit" variant="primary" busy={change.isPending}>
            Change password
          </Button>
        </div>
      </form>
    </section>
  );
}
