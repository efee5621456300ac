// Sign-in: username, password (show/hide), remember me, and v1's kiosk options (single-view mode
// and its default view, remembered on the account for non-admins).
import { useEffect, useState, type FormEvent } from 'react';
import { Link, Navigate, useNavigate, useSearchParams } from 'react-router';
import { useMutation, useQuery } from '@tanstack/react-query';
import { api, ApiError, data } from '../api/client';
import { useSession } from '../app/session';
import { Button, ErrorMessage, Options } from '../app/ui';
import { RecoveryCodesView, TotpSecretView } from '../app/TwoFactor';
import { passkeyErrorText, passkeysSupported, signWithPasskey } from '../app/passkeys';
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
  const [challenge, setChallenge] = useState<{ token: string; step: string; passkey: boolean } | null>(null);
  const [recovery, setRecovery] = useState<string[] | null>(null);
  const setup = useQuery({
    queryKey: ['auth', 'setup'],
    queryFn: () => data(api.GET('/api/v1/auth/setup')),
    retry: false,
  });
  const options = useQuery({
    queryKey: ['auth', 'sign-in-options'],
    queryFn: () => data(api.GET('/api/v1/auth/sign-in-options')),
    retry: false,
  });
  const sso = options.data?.oidc ?? null;
  const passwordOff = options.data?.password === false;

  if (user && !busy && !recovery) return <Navigate to={user.single_view_mode ? '/kiosk' : safeNext(params.get('next'))} replace />;

  const finish = async (singleView: boolean) => {
    await refresh();
    navigate(singleView ? '/kiosk' : safeNext(params.get('next')), { replace: true });
  };

  async function passkeySignIn() {
    setBusy(true);
    setError(null);
    try {
      const options = await data(api.POST('/api/v1/auth/login/passkey/options'));
      let credential;
      try {
        credential = await signWithPasskey(options.public_key as Record<string, unknown>);
      } catch (e) {
        const text = passkeyErrorText(e);
        throw text ? new Error(text) : e;
      }
      const r = await data(api.POST('/api/v1/auth/login/passkey', { body: { credential, remember_me: remember } }));
      await finish(r.single_view_mode);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

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
      if ('challenge_token' in r) {
        setChallenge({ token: r.challenge_token, step: r.second_factor, passkey: r.passkey });
        return;
      }
      await finish(r.single_view_mode);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  if (recovery) {
    return (
      <main className="auth-page">
        <div className="auth-card">
          <h1>TaylorDash</h1>
          <p className="subtitle">Two-factor sign-in is on.</p>
          <RecoveryCodesView codes={recovery} />
          <Button variant="primary" onClick={() => void finish(false)}>
            I have saved them, continue
          </Button>
        </div>
      </main>
    );
  }

  if (challenge) {
    return (
      <main className="auth-page">
        <div className="auth-card">
          <h1>TaylorDash</h1>
          <SecondStep
            challenge={challenge}
            onRestart={() => setChallenge(null)}
            onDone={async (r) => {
              if (r.recovery_codes?.length) {
                setBusy(true);
                await refresh();
                setRecovery(r.recovery_codes);
                setBusy(false);
              } else {
                await finish(r.single_view_mode);
              }
            }}
          />
        </div>
      </main>
    );
  }

  const form = (
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
  );

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
        {sso && (
          <>
            <a
              className="btn btn-primary sso-button"
              href={`${sso.login_url}?return_to=${encodeURIComponent(safeNext(params.get('next')))}`}
            >
              Sign in with {sso.name}
            </a>
            {!passwordOff && <p className="sso-or">or with a TaylorDash account</p>}
          </>
        )}
        {passkeysSupported() && (
          <>
            <Button variant={sso ? 'secondary' : 'primary'} className="passkey-button" busy={busy} onClick={() => void passkeySignIn()}>
              Use a passkey
            </Button>
            <p className="sso-or">or with a password</p>
          </>
        )}
        {passwordOff ? (
          <details className="break-glass">
            <summary>Break-glass sign-in (local account)</summary>
            {form}
          </details>
        ) : (
          form
        )}
        {setup.data?.setup_required && (
          <p className="hint">
            Have the setup address? <Link to="/setup">Go to setup</Link>
          </p>
        )}
      </div>
    </main>
  );
}

type Completed = { recovery_codes?: string[] | null; single_view_mode: boolean };

/** The second step: a code from the authenticator app (or a recovery code); first the QR code when an admin must enrol. */
function SecondStep({
  challenge,
  onDone,
  onRestart,
}: {
  challenge: { token: string; step: string; passkey: boolean };
  onDone: (r: Completed) => Promise<void>;
  onRestart: () => void;
}) {
  const [code, setCode] = useState('');
  const enrolling = challenge.step === 'enrol';
  const enrol = useMutation({
    mutationFn: () => data(api.POST('/api/v1/auth/login/enrol', { body: { challenge_token: challenge.token } })),
  });
  const { mutate: startEnrol } = enrol;
  useEffect(() => {
    if (enrolling) startEnrol();
  }, [enrolling, startEnrol]);
  const submit = useMutation({
    mutationFn: () =>
      data(api.POST('/api/v1/auth/login/second-factor', { body: { challenge_token: challenge.token, code } })),
    onSuccess: (r) => onDone(r),
    onError: () => setCode(''),
  });
  const withPasskey = useMutation({
    mutationFn: async () => {
      const options = await data(
        api.POST('/api/v1/auth/login/second-factor/passkey/options', { body: { challenge_token: challenge.token } }),
      );
      let credential;
      try {
        credential = await signWithPasskey(options.public_key as Record<string, unknown>);
      } catch (e) {
        const text = passkeyErrorText(e);
        throw text ? new Error(text) : e;
      }
      return data(
        api.POST('/api/v1/auth/login/second-factor/passkey', { body: { challenge_token: challenge.token, credential } }),
      );
    },
    onSuccess: (r) => onDone(r),
  });
  const expired =
    [submit.error, withPasskey.error].some((e) => e instanceof ApiError && e.code === 'SIGN_IN_EXPIRED');
  if (challenge.step === 'passkey') {
    return (
      <div role="form" aria-label="Two-factor sign-in">
        <p className="subtitle">Confirm with your passkey to finish signing in.</p>
        <ErrorMessage error={withPasskey.error} />
        {expired ? (
          <Button variant="primary" onClick={onRestart}>
            Sign in again
          </Button>
        ) : (
          <Button variant="primary" busy={withPasskey.isPending} onClick={() => withPasskey.mutate()}>
            Use a passkey
          </Button>
        )}
        <Button variant="ghost" onClick={onRestart}>
          Back
        </Button>
      </div>
    );
  }
  return (
    <form
      aria-label="Two-factor sign-in"
      onSubmit={(e) => {
        e.preventDefault();
        submit.mutate();
      }}
    >
      {enrolling ? (
        <>
          <p className="subtitle">Administrators must use two-factor sign-in. Set it up now.</p>
          {enrol.isError && <ErrorMessage error={enrol.error} />}
          {enrol.data && <TotpSecretView secret={enrol.data.secret} uri={enrol.data.otpauth_uri} />}
        </>
      ) : (
        <p className="subtitle">Enter the code your authenticator app shows, or one of your recovery codes.</p>
      )}
      <label>
        {enrolling ? 'Code from the app' : 'Code'}
        <input
          name="code"
          autoComplete="one-time-code"
          inputMode={enrolling ? 'numeric' : 'text'}
          required
          autoFocus
          value={code}
          onChange={(e) => setCode(e.target.value)}
        />
      </label>
      <ErrorMessage error={submit.error ?? withPasskey.error} />
      {challenge.passkey && !enrolling && !expired && (
        <Button busy={withPasskey.isPending} onClick={() => withPasskey.mutate()}>
          Use a passkey instead
        </Button>
      )}
      {expired ? (
        <Button variant="primary" onClick={onRestart}>
          Sign in again
        </Button>
      ) : (
        <Button type="submit" variant="primary" busy={submit.isPending}>
          {submit.isPending ? 'Checking…' : 'Verify'}
        </Button>
      )}
      <Button variant="ghost" onClick={onRestart}>
        Back
      </Button>
    </form>
  );
}
