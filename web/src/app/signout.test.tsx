// Sign-out ends the session in the tab for good: the login form is shown and stays, no screen
// sees the old user again, and nothing of the old session is left in the query cache.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { MemoryRouter, Route, Routes, useLocation, useNavigate } from 'react-router';
import { QueryClient, QueryClientProvider, useQuery } from '@tanstack/react-query';
import { api, ApiError } from '../api/client';
import { SessionProvider, useSession } from './session';
import { RequireUser } from './App';
import LoginPage from '../pages/Login';

const ME = {
  id: '00000000-0000-0000-0000-000000000001',
  username: 'admin',
  role: 'admin',
  is_active: true,
  single_view_mode: false,
  created_at: '2026-01-01T00:00:00Z',
  session_expires_at: '2099-01-01T00:00:00Z',
};

let signedIn = true;
const ok = (body: unknown) => ({ data: body, response: new Response(null, { status: 200 }) });

beforeEach(() => {
  signedIn = true;
  vi.spyOn(api, 'GET').mockImplementation((async (path: string) => {
    if (path === '/api/v1/auth/setup') return ok({ setup_required: false });
    if (!signedIn) throw new ApiError(401, 'NOT_AUTHENTICATED', 'Sign in first.');
    if (path === '/api/v1/auth/me') return ok(ME);
    return ok({ items: ['secret'] });
  }) as never);
  vi.spyOn(api, 'POST').mockImplementation((async (path: string) => {
    if (path === '/api/v1/auth/logout') signedIn = false;
    if (path === '/api/v1/auth/login') {
      signedIn = true;
      return ok({ ...ME, single_view_mode: false });
    }
    return { data: undefined, response: new Response(null, { status: 204 }) };
  }) as never);
});
afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

/** A signed-in screen with a query of its own and the shell's "Sign out" (logout, then /login). */
function Screen({ name }: { name: string }) {
  const { user, logout } = useSession();
  const navigate = useNavigate();
  useQuery({ queryKey: ['screen', name], queryFn: () => api.GET('/api/v1/projects' as never) });
  return (
    <section>
      <h1>{name}</h1>
      <p>signed in as {user?.username}</p>
      <button
        type="button"
        onClick={async () => {
          await logout();
          navigate('/login', { replace: true });
        }}
      >
        Sign out
      </button>
    </section>
  );
}

function Where() {
  const l = useLocation();
  return <output data-testid="where">{l.pathname + l.search}</output>;
}

function app(start: string) {
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  render(
    <QueryClientProvider client={qc}>
      <SessionProvider>
        <MemoryRouter initialEntries={[start]}>
          <Where />
          <Routes>
            <Route path="/login" element={<LoginPage />} />
            {['/', '/admin', '/projects'].map((p) => (
              <Route
                key={p}
                path={p}
                element={
                  <RequireUser admin={p === '/admin'}>
                    <Screen name={p} />
                  </RequireUser>
                }
              />
            ))}
          </Routes>
        </MemoryRouter>
      </SessionProvider>
    </QueryClientProvider>,
  );
  return qc;
}

describe('sign out', () => {
  for (const start of ['/', '/admin', '/projects']) {
    it(`from ${start} shows the login form, and it stays`, async () => {
      const qc = app(start);
      await screen.findByText('signed in as admin');
      fireEvent.click(screen.getByRole('button', { name: 'Sign out' }));
      await screen.findByRole('form', { name: 'Sign in' });
      // Settled, and still there a moment later: nothing sends the browser back.
      await act(() => new Promise((r) => setTimeout(r, 300)));
      expect(screen.getByRole('form', { name: 'Sign in' })).toBeTruthy();
      expect(screen.queryByText(/signed in as/)).toBeNull();
      expect(screen.getByTestId('where').textContent).toBe('/login');
      // Nothing the old session fetched is kept.
      expect(qc.getQueryCache().findAll({ queryKey: ['screen'] })).toHaveLength(0);
    });
  }

  it('signing in again afterwards works', async () => {
    app('/projects');
    await screen.findByText('signed in as admin');
    fireEvent.click(screen.getByRole('button', { name: 'Sign out' }));
    await screen.findByRole('form', { name: 'Sign in' });
    fireEvent.change(screen.getByLabelText('Username'), { target: { value: 'admin' } });
    fireEvent.change(screen.getByLabelText('Password'), { target: { value: 'pw' } });
    fireEvent.submit(screen.getByRole('form', { name: 'Sign in' }));
    await screen.findByText('signed in as admin');
    await waitFor(() => expect(screen.getByTestId('where').textContent).toBe('/'));
  });
});
