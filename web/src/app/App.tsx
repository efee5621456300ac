// Routes. Every screen is a lazy chunk so the first load stays small; all signed-in screens
// render inside the shell (navigation, header, banners). Ownership while the UI is being built:
// app/ + pages/Login|Setup|Dashboard|Projects|Kiosk (core), pages/Events|Settings|Admin (pages),
// canvas/ (canvas).
import { lazy, Suspense, type ReactNode } from 'react';
import { BrowserRouter, Link, Navigate, Route, Routes, useLocation } from 'react-router';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { SessionProvider, useSession } from './session';
import { LiveCacheSync, LiveProvider } from './live';
import { ThemeProvider } from './theme';
import { Loading, ToastProvider } from './ui';
import { Shell } from './Shell';

const LoginPage = lazy(() => import('../pages/Login'));
const SetupPage = lazy(() => import('../pages/Setup'));
const DashboardPage = lazy(() => import('../pages/Dashboard'));
const ProjectsPage = lazy(() => import('../pages/Projects'));
const KioskPage = lazy(() => import('../pages/Kiosk'));
const EventsPage = lazy(() => import('../pages/Events/index'));
const SettingsPage = lazy(() => import('../pages/Settings/index'));
const AdminPage = lazy(() => import('../pages/Admin/index'));
const CanvasPage = lazy(() => import('../canvas/CanvasPage'));
const LogsPage = lazy(() => import('../pages/Logs/index'));
const ProjectDetailPage = lazy(() => import('../pages/ProjectDetail/index'));
const StatusPage = lazy(() => import('../pages/Status/StatusPage'));
const ComponentChecksPage = lazy(() => import('../pages/Checks/index'));
const AlertsPage = lazy(() => import('../pages/Alerts/index'));

export const queryClient = new QueryClient({
  defaultOptions: { queries: { staleTime: 10_000, retry: 1, refetchOnWindowFocus: false } },
});

/**
 * Signed-in screens: not signed in → /login (coming back afterwards); kiosk users → kiosk; an
 * admin screen opened by someone else says why it is not shown (rather than moving them away).
 */
export function RequireUser({ children, admin = false }: { children: ReactNode; admin?: boolean }) {
  const { user, loading, isAdmin, signedOut } = useSession();
  const location = useLocation();
  if (loading) return <Loading />;
  if (!user) {
    // After "Sign out" the next person starts from the dashboard, not from the last screen.
    const next = location.pathname + location.search;
    const back = next !== '/' && !signedOut ? `?next=${encodeURIComponent(next)}` : '';
    return <Navigate to={`/login${back}`} replace />;
  }
  if (user.single_view_mode && !isAdmin && location.pathname !== '/kiosk') {
    return <Navigate to="/kiosk" replace />;
  }
  if (admin && !isAdmin) return <AdminsOnly />;
  return <>{children}</>;
}

const ADMIN_SCREENS: Record<string, string> = { '/admin': 'Administration', '/logs': 'The log viewer' };

function AdminsOnly() {
  const { user, role } = useSession();
  const { pathname } = useLocation();
  return (
    <section className="page" aria-labelledby="admins-only">
      <h1 id="admins-only">For administrators only</h1>
      <p>
        {ADMIN_SCREENS[pathname] ?? 'This screen'} is open to administrators only. You are signed in as{' '}
        <strong>{user?.username}</strong>, whose role is {role}.
      </p>
      <p>
        An administrator can change your role under Administration → Users. <Link to="/">Back to the dashboard</Link>
      </p>
    </section>
  );
}

function LiveWhenSignedIn({ children }: { children: ReactNode }) {
  const { user } = useSession();
  return (
    <LiveProvider enabled={user !== null}>
      <LiveCacheSync />
      {children}
    </LiveProvider>
  );
}

export function AppRoutes() {
  return (
    <Suspense fallback={<Loading />}>
      <Routes>
        <Route path="/login" element={<LoginPage />} />
        <Route path="/setup" element={<SetupPage />} />
        <Route
          path="/kiosk"
          element={
            <RequireUser>
              <KioskPage />
            </RequireUser>
          }
        />
        <Route
          element={
            <RequireUser>
              <Shell />
            </RequireUser>
          }
        >
          <Route index element={<DashboardPage />} />
          <Route path="projects" element={<ProjectsPage />} />
          <Route path="projects/:projectId/canvas" element={<CanvasPage />} />
          <Route path="canvas" element={<CanvasPage />} />
          <Route path="events" element={<EventsPage />} />
          <Route path="alerts" element={<AlertsPage />} />
          <Route path="settings" element={<SettingsPage />} />
          <Route
            path="admin"
            element={
              <RequireUser admin>
                <AdminPage />
              </RequireUser>
            }
          />
          <Route path="projects/:projectId" element={<ProjectDetailPage />} />
          <Route path="projects/:projectId/components/:componentId" element={<ComponentChecksPage />} />
          <Route
            path="logs"
            element={
              <RequireUser admin>
                <LogsPage />
              </RequireUser>
            }
          />
          <Route path="*" element={<NotFound />} />
        </Route>
      </Routes>
    </Suspense>
  );
}

function NotFound() {
  return (
    <section className="page">
      <h1>Not found</h1>
      <p>There is no screen at this address.</p>
    </section>
  );
}

/** The public status page's path: served without a session, the shell or the live stream. */
export function isPublicPath(pathname: string): boolean {
  return pathname.startsWith('/status/');
}

/** Public screens: no sign-in, no navigation (a wall screen or a phone with just a link). */
export function PublicRoutes() {
  return (
    <Suspense fallback={<Loading />}>
      <Routes>
        <Route path="/status/:token" element={<StatusPage />} />
        <Route path="*" element={<NotFound />} />
      </Routes>
    </Suspense>
  );
}

export function App() {
  if (isPublicPath(window.location.pathname)) {
    return (
      <QueryClientProvider client={queryClient}>
        <ThemeProvider>
          <BrowserRouter>
            <PublicRoutes />
          </BrowserRouter>
        </ThemeProvider>
      </QueryClientProvider>
    );
  }
  return (
    <QueryClientProvider client={queryClient}>
      <ThemeProvider>
        <ToastProvider>
          <SessionProvider>
            <LiveWhenSignedIn>
              <BrowserRouter>
                <AppRoutes />
              </BrowserRouter>
            </LiveWhenSignedIn>
          </SessionProvider>
        </ToastProvider>
      </ThemeProvider>
    </QueryClientProvider>
  );
}
