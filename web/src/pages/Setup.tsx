// First-run setup: the one-time token from the server log (`/setup?token=…`) plus the first
// administrator's username and password (show/hide, as on the sign-in page); on success the new
// admin is signed in.
import { useState, type FormEvent } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { useQuery } from '@tanstack/react-query';
import { api, data } from '../api/client';
import { useSession } from '../app/session';
import { Button, ErrorMessage, Loading } from '../app/ui';
import './auth.css';

export default function SetupPage() {
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const { refresh } = useSession();
  const [token, setToken] = useState(() => params.get('token') ?? '');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  // Show/hide both password fields (one toggle), as on the sign-in page.
  const [show, setShow] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const status = useQuery({
    queryKey: ['auth', 'setup'],
    queryFn: () => data(api.GET('/api/v1/auth/setup')),
    retry: false,
  });

  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    if (password !== confirm) {
      setError(new Error('The two passwords differ.'));
      return;
    }
    setBusy(true);
    try {
      await data(api.POST('/api/v1/auth/setup', { body: { token: token.trim(), username, password } }));
      setPassword('');
      setConfirm('');
      await refresh();
      navigate('/', { replace: true });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="auth-page">
      <div className="auth-card">
        <h1>TaylorDash setup</h1>
        {status.isPending ? (
          <Loading />
        ) : status.data && !status.data.setup_required ? (
          <>
            <p>This installation already has an administrator.</p>
            <Link to="/login">Sign in</Link>
          </>
        ) : (
          <>
            <p className="subtitle">Create the first administrator.</p>
            <form onSubmit={submit} aria-label="Create the first administrator">
              {!params.get('token') && (
                <label>
                  Setup token
                  <input
                    name="token"
                    required
                    autoComplete="off"
                    value={token}
                    onChange={(e) => setToken(e.target.value)}
                  />
                  <span className="hint">Printed in the server log at start, in the setup address.</span>
                </label>
              )}
              <label>
                Username
                <input
                  name="username"
                  autoComplete="username"
                  required
                  maxLength={64}
                  value={username}
                  onChange={(e) => setUsername(e.target.value)}
                />
              </label>
              <label htmlFor="setup-password">Password</label>
              <div className="password-row">
                <input
                  id="setup-password"
                  name="password"
                  type={show ? 'text' : 'password'}
                  autoComplete="new-password"
                  required
                  minLength={12}
                  value={password}
                  onChange={(e) => setPassword(e.target.value)}
                />
                <Button variant="ghost" aria-pressed={show} onClick={() => setShow((s) => !s)}>
                  {show ? 'Hide' : 'Show'}
                  <span className="sr-only"> password</span>
                </Button>
              </div>
              <label>
                Confirm password
                <input
                  name="confirm"
                  type={show ? 'text' : 'password'}
                  autoComplete="new-password"
                  required
                  value={confirm}
                  onChange={(e) => setConfirm(e.target.value)}
                />
              </label>
              <p className="hint">At least 12 characters, not a common password, not the username.</p>
              <ErrorMessage error={error} />
              <Button type="submit" variant="primary" busy={busy}>
                Create administrator
              </Button>
            </form>
          </>
        )}
        <ErrorMessage error={status.error} />
      </div>
    </main>
  );
}
