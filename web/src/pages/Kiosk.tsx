// Kiosk (v1's single-view mode) for wall screens and tablets: only the user's default view, no
// navigation, big touch targets, a fullscreen toggle, live updates. The dashboard fits the screen
// (1920×1080 down to 1280×800) without scrolling: its panels share the height, their lists show
// what fits. It recovers by itself after a server restart: the live stream reconnects and every
// query refetches on resync.
import { lazy, Suspense, useEffect, useState } from 'react';
import { useNavigate } from 'react-router';
import { useQuery } from '@tanstack/react-query';
import { api, data } from '../api/client';
import { useSession } from '../app/session';
import { Clock, LiveIndicator } from '../app/Shell';
import { ConnectionBanner } from '../app/banners';
import { Button, Loading } from '../app/ui';
import './kiosk.css';

const DashboardPage = lazy(() => import('./Dashboard'));
const ProjectsPage = lazy(() => import('./Projects'));
const EventsPage = lazy(() => import('./Events/index'));

function View({ name }: { name: string }) {
  if (name === 'projects') return <ProjectsPage readOnly />;
  if (name === 'events') return <EventsPage />;
  return <DashboardPage kiosk />;
}

export default function KioskPage() {
  const { user, logout } = useSession();
  const navigate = useNavigate();
  const [full, setFull] = useState(() => document.fullscreenElement !== null);
  useEffect(() => {
    const on = () => setFull(document.fullscreenElement !== null);
    document.addEventListener('fullscreenchange', on);
    return () => document.removeEventListener('fullscreenchange', on);
  }, []);
  // A wall screen is never "idle": keep its session alive (each call slides it forward).
  useQuery({
    queryKey: ['kiosk', 'keepalive'],
    queryFn: () => data(api.GET('/api/v1/auth/me')),
    refetchInterval: 10 * 60_000,
    refetchIntervalInBackground: true,
  });
  const view = user?.default_view || 'dashboard';

  return (
    <div className="kiosk">
      <header className="kiosk-header">
        <span className="brand">TaylorDash</span>
        <span className="kiosk-view">{view.charAt(0).toUpperCase() + view.slice(1)}</span>
        <span className="header-spacer" />
        <LiveIndicator />
        <Clock seconds />
        <Button
          aria-pressed={full}
          onClick={() => {
            if (document.fullscreenElement) void document.exitFullscreen();
            else void document.documentElement.requestFullscreen?.().catch(() => {});
          }}
        >
          {full ? 'Exit fullscreen' : 'Fullscreen'}
        </Button>
        <Button
          variant="ghost"
          onClick={async () => {
            await logout();
            navigate('/login', { replace: true });
          }}
        >
          Sign out
        </Button>
      </header>
      <main className={`kiosk-main${view === 'dashboard' || !['projects', 'events'].includes(view) ? ' kiosk-fit' : ''}`} id="main">
        <ConnectionBanner />
        <Suspense fallback={<Loading />}>
          <View name={view} />
        </Suspense>
      </main>
    </div>
  );
}
