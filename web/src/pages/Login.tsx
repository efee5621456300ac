// Sign-in: username, password (show/hide), remember me, and v1's kiosk options (single-view mode
// and its default view, remembered on the account for non-admins).
import { useState, type FormEvent } from 'react';
import { Link, Navigate, useNavigate, useSearchParams } from 'react-router';
import { useQuery } from '@tanstack/react-query';
import { api, data } from '../api/client';
import { useSession } from '../app/session';
import { Button, ErrorMessage, Options } from '../app/ui';
import './auth.css';

export const KIOSK_VIEWS = [
  { value: 'dashboard', label: 'Dashboard' },
  { value: 'projects', label: 'Projects' },
  { value: 'events', label: 'Events' },
] as const;

/** Only same-site paths are followed after sign-in (no open redirects). */
export function safeNext(next: string | null): string {
  const ok = next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\') && !next.startsWith('/login');
  return ok ? next : '/';
}

export default function LoginPage() {
  const { user, refresh } = useSession();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [show, setShow] = useState(false);
  const [remember, setRemember] = useState(false);
  const [kiosk, setKiosk] = useState(false);
  const [view, setView] = useState('dashboard');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const setup = useQuery({
    queryKey: ['auth', 'setup'],
    queryFn: () => data(api.GET('/api/v1/auth/setup')),
    retry: false,
  });

  if (user && !busy) return <Navigate to={user.single_view_mode ? '/kiosk' : safeNext(params.get('next'))} replace />;

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const r = await data(
        api.POST('/api/v1/auth/login', {
          body: {
            username,
            password,
            remember_me: remember,
            ...(kiosk ? { single_view_mode: true, default_view: view } : {}),
          },
        }),
      );
      setPassword('');
      await refresh();
      navigate(r.single_view_mode ? '/kiosk' : safeNext(params.get('next')), { replace: true });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="auth-page">
      <div className="auth-card">
        <h1>TaylorDash</h1>
        <p className="subtitle">Mission control for your home-lab projects</p>
        {setup.data?.setup_required && (
          <p className="hint" role="note">
            No administrator exists yet. Open the one-time setup address printed in the server log
            (<code>/setup?token=…</code>) to create the first one.
          </p>
        )}
        <form onSubmit={submit} aria-label="Sign in">
          <label>
            Username
            <input
              name="username"
              autoComplete="username"
              required
              autoFocus
              value={username}
              onChange={(e) => setUsername(e.target.value)}
            />
          </label>
          <label htmlFor="login-password">Password</label>
          <div className="password-row">
            <input
              id="login-password"
              name="password"
              type={show ? 'text' : 'password'}
              autoComplete="current-password"
              required
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
            <Button variant="ghost" aria-pressed={show} onClick={() => setShow((s) => !s)}>
              {show ? 'Hide' : 'Show'}
              <span className="sr-only"> password</span>
            </Button>
          </div>
          <label className="check">
            <input type="checkbox" checked={remember} onChange={(e) => setRemember(e.target.checked)} />
            Remember me (30 days)
          </label>
          <details>
            <summary>Tablet / kiosk options</summary>
            <label className="check">
              <input type="checkbox" checked={kiosk} onChange={(e) => setKiosk(e.target.checked)} />
              Single-view mode
            </label>
            <label>
              Default view
              <select value={view} disabled={!kiosk} onChange={(e) => setView(e.target.value)}>
                <Options items={KIOSK_VIEWS} />
              </select>
            </label>
            <p className="hint">Kept on your account (not for administrators).</p>
          </details>
          <ErrorMessage error={error} />
          <Button type="submit" variant="primary" busy={busy}>
            {busy ? 'Signing in…' : 'Sign in'}
          </Button>
        </form>
        {setup.data?.setup_required && (
          <p className="hint">
            Have the setup address? <Link to="/setup">Go to setup</Link>
          </p>
        )}
      </div>
    </main>
  );
}
