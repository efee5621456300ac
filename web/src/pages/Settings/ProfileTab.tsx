// Profile: who am I, changing my password (current password required; the server's policy
// message is shown as it is), two-factor sign-in (TOTP), and passkeys (add, rename, remove).
import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, data } from '../../api/client';
import { useSession } from '../../app/session';
import { Badge, Button, ErrorMessage, useNotify } from '../../app/ui';
import { Field, Time } from '../Events/shared';
import { RecoveryCodesView, TotpSecretView } from '../../app/TwoFactor';
import { createPasskey, passkeyErrorText, passkeysSupported } from '../../app/passkeys';

export function ProfileTab() {
  const { user, signedInBy } = useSession();
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
      {signedInBy !== 'forward_auth' && <PasswordForm username={user.username} />}
      {signedInBy !== 'forward_auth' && <TwoFactorPanel />}
      {signedInBy !== 'forward_auth' && <PasskeysPanel />}
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

const TOTP_KEY = ['auth', 'me', 'totp'] as const;

/** Two-factor sign-in: set up (password → QR code → first code → recovery codes), new recovery codes, off. */
function TwoFactorPanel() {
  const qc = useQueryClient();
  const notify = useNotify();
  const status = useQuery({ queryKey: TOTP_KEY, queryFn: () => data(api.GET('/api/v1/auth/me/totp')) });
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const [secret, setSecret] = useState<{ secret: string; otpauth_uri: string } | null>(null);
  const [codes, setCodes] = useState<string[] | null>(null);
  const [action, setAction] = useState<'setup' | 'renew' | 'disable' | null>(null);
  const reset = () => {
    setPassword('');
    setCode('');
    setAction(null);
  };
  const start = useMutation({
    mutationFn: () => data(api.POST('/api/v1/auth/me/totp', { body: { password } })),
    onSuccess: (r) => {
      setSecret(r);
      setPassword('');
      setCodes(null);
    },
  });
  const confirm = useMutation({
    mutationFn: () => data(api.POST('/api/v1/auth/me/totp/confirm', { body: { code } })),
    onSuccess: async (r) => {
      setCodes(r.recovery_codes);
      setSecret(null);
      reset();
      notify('Two-factor sign-in is on', 'ok');
      await qc.invalidateQueries({ queryKey: TOTP_KEY });
    },
  });
  const renew = useMutation({
    mutationFn: () => data(api.POST('/api/v1/auth/me/totp/recovery-codes', { body: { password } })),
    onSuccess: (r) => {
      setCodes(r.recovery_codes);
      reset();
      void qc.invalidateQueries({ queryKey: TOTP_KEY });
    },
  });
  const disable = useMutation({
    mutationFn: () => data(api.POST('/api/v1/auth/me/totp/disable', { body: { password } })),
    onSuccess: async (r) => {
      reset();
      setCodes(null);
      notify(r.message, 'ok');
      await qc.invalidateQueries({ queryKey: TOTP_KEY });
    },
  });
  const s = status.data;
  const passwordStep = (label: string, run: () => void, busy: boolean, error: unknown) => (
    <form
      className="stack-form"
      onSubmit={(e) => {
        e.preventDefault();
        run();
      }}
    >
      <Field label="Current password">
        {(p) => (
          <input {...p} type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
        )}
      </Field>
      {error ? <ErrorMessage error={error} /> : null}
      <div className="form-actions">
        <Button type="submit" variant="primary" busy={busy}>
          {label}
        </Button>
        <Button variant="ghost" onClick={reset}>
          Cancel
        </Button>
      </div>
    </form>
  );
  return (
    <section className="panel" aria-labelledby="totp-h">
      <h2 id="totp-h">Two-factor sign-in</h2>
      {status.isError && <ErrorMessage error={status.error} />}
      {s && (
        <p data-testid="totp-status">
          {s.enabled ? (
            <>
              <Badge tone="ok">on</Badge> A code from your authenticator app is asked after your password.{' '}
              {s.recovery_codes_left} recovery codes left.
            </>
          ) : (
            <>
              <Badge tone="warn">off</Badge> Your password alone signs you in.
              {s.required && ' Administrators must use two-factor sign-in: set it up now.'}
            </>
          )}
        </p>
      )}
      {codes && <RecoveryCodesView codes={codes} />}
      {s && !s.enabled && !secret && action !== 'setup' && (
        <Button variant="primary" onClick={() => setAction('setup')}>
          Set up two-factor sign-in
        </Button>
      )}
      {action === 'setup' && !secret && passwordStep('Continue', () => start.mutate(), start.isPending, start.error)}
      {secret && (
        <form
          className="stack-form"
          onSubmit={(e) => {
            e.preventDefault();
            confirm.mutate();
          }}
        >
          <TotpSecretView secret={secret.secret} uri={secret.otpauth_uri} />
          <Field label="Code from the app">
            {(p) => (
              <input
                {...p}
                inputMode="numeric"
                autoComplete="one-time-code"
                pattern="[0-9 ]*"
                required
                value={code}
                onChange={(e) => setCode(e.target.value)}
              />
            )}
          </Field>
          {confirm.isError && <ErrorMessage error={confirm.error} />}
          <div className="form-actions">
            <Button type="submit" variant="primary" busy={confirm.isPending}>
              Turn on
            </Button>
            <Button
              variant="ghost"
              onClick={() => {
                setSecret(null);
                reset();
              }}
            >
              Cancel
            </Button>
          </div>
        </form>
      )}
      {s?.enabled && action === null && (
        <div className="form-actions">
          <Button onClick={() => setAction('renew')}>New recovery codes</Button>
          {!s.required && (
            <Button variant="danger" onClick={() => setAction('disable')}>
              Turn off
            </Button>
          )}
        </div>
      )}
      {action === 'renew' && passwordStep('Make new recovery codes', () => renew.mutate(), renew.isPending, renew.error)}
      {action === 'disable' && passwordStep('Turn two-factor sign-in off', () => disable.mutate(), disable.isPending, disable.error)}
    </section>
  );
}

const PASSKEYS_KEY = ['auth', 'me', 'passkeys'] as const;

/** The browser's refusal in words, the server's error as it is. */
function passkeyError(e: unknown): unknown {
  const text = passkeyErrorText(e);
  return text ? new Error(text) : e;
}

/** Passkeys: sign in without a password, or as the second step after it. */
function PasskeysPanel() {
  const qc = useQueryClient();
  const notify = useNotify();
  const list = useQuery({ queryKey: PASSKEYS_KEY, queryFn: () => data(api.GET('/api/v1/auth/me/passkeys')) });
  const [name, setName] = useState('');
  const [editing, setEditing] = useState<{ id: string; name: string } | null>(null);
  const refresh = () => qc.invalidateQueries({ queryKey: PASSKEYS_KEY });
  const add = useMutation({
    mutationFn: async () => {
      const options = await data(api.POST('/api/v1/auth/me/passkeys/options'));
      let credential;
      try {
        credential = await createPasskey(options.public_key as Record<string, unknown>);
      } catch (e) {
        throw passkeyError(e);
      }
      return data(api.POST('/api/v1/auth/me/passkeys', { body: { name, credential } }));
    },
    onSuccess: async (p) => {
      setName('');
      notify(`Passkey “${p.name}” added`, 'ok');
      await refresh();
    },
  });
  const rename = useMutation({
    mutationFn: (p: { id: string; name: string }) =>
      data(api.PUT('/api/v1/auth/me/passkeys/{passkey_id}', { params: { path: { passkey_id: p.id } }, body: { name: p.name } })),
    onSuccess: async () => {
      setEditing(null);
      await refresh();
    },
  });
  const remove = useMutation({
    mutationFn: (id: string) => data(api.DELETE('/api/v1/auth/me/passkeys/{passkey_id}', { params: { path: { passkey_id: id } } })),
    onSuccess: async () => {
      notify('Passkey removed', 'ok');
      await refresh();
    },
  });
  const keys = list.data?.passkeys ?? [];
  return (
    <section className="panel" aria-labelledby="passkeys-h">
      <h2 id="passkeys-h">Passkeys</h2>
      <p className="muted">
        A passkey signs you in without a password (your device checks your fingerprint, face or PIN), and is asked for
        after your password as a second step.
      </p>
      {list.isError && <ErrorMessage error={list.error} />}
      {keys.length === 0 && list.isSuccess && <p data-testid="passkeys-empty">No passkeys yet.</p>}
      {keys.length > 0 && (
        <ul className="passkey-list" aria-label="Your passkeys">
          {keys.map((p) => (
            <li key={p.id}>
              {editing?.id === p.id ? (
                <form
                  className="inline-form"
                  onSubmit={(e) => {
                    e.preventDefault();
                    rename.mutate(editing);
                  }}
                >
                  <Field label="New name">
                    {(f) => (
                      <input {...f} required maxLength={64} value={editing.name} onChange={(e) => setEditing({ id: p.id, name: e.target.value })} />
                    )}
                  </Field>
                  {rename.isError && <ErrorMessage error={rename.error} />}
                  <Button type="submit" variant="primary" busy={rename.isPending}>
                    Save
                  </Button>
                  <Button variant="ghost" onClick={() => setEditing(null)}>
                    Cancel
                  </Button>
                </form>
              ) : (
                <>
                  <strong>{p.name}</strong>{' '}
                  <span className="muted">
                    added <Time iso={p.created_at} />, last used {p.last_used_at ? <Time iso={p.last_used_at} /> : 'never'}
                  </span>{' '}
                  <Button variant="ghost" onClick={() => setEditing({ id: p.id, name: p.name })}>
                    Rename<span className="sr-only"> {p.name}</span>
                  </Button>
                  <Button variant="danger" busy={remove.isPending && remove.variables === p.id} onClick={() => remove.mutate(p.id)}>
                    Remove<span className="sr-only"> {p.name}</span>
                  </Button>
                </>
              )}
            </li>
          ))}
        </ul>
      )}
      {remove.isError && <ErrorMessage error={remove.error} />}
      {passkeysSupported() ? (
        <form
          className="stack-form"
          onSubmit={(e) => {
            e.preventDefault();
            add.mutate();
          }}
        >
          <Field label="Passkey name">
            {(f) => (
              <input {...f} required maxLength={64} placeholder="e.g. Laptop fingerprint" value={name} onChange={(e) => setName(e.target.value)} />
            )}
          </Field>
          {add.isError && <ErrorMessage error={add.error} />}
          <div className="form-actions">
            <Button type="submit" variant="primary" busy={add.isPending}>
              Add a passkey
            </Button>
          </div>
        </form>
      ) : (
        <p className="muted">This browser cannot use passkeys here (they need HTTPS, or localhost).</p>
      )}
    </section>
  );
}
