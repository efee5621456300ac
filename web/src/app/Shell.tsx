// The frame around every signed-in screen: navigation, header (clock, live indicator, user
// menu), the connection banner and the session-expiry warning.
import { useEffect, useRef, useState } from 'react';
import { NavLink, Outlet, useNavigate } from 'react-router';
import { useSession } from './session';
import { clockTime, useLiveStream } from './live';
import { useTheme } from './theme';
import { Button } from './ui';
import { ConnectionBanner, SessionExpiryWarning } from './banners';
import { useLiveAlerts, useOpenAlerts } from '../alerts/api';
import './shell.css';

export function Shell() {
  const { isAdmin } = useSession();
  const [navOpen, setNavOpen] = useState(false);
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="shell-header">
        <Button
          variant="ghost"
          className="nav-toggle"
          aria-expanded={navOpen}
          aria-controls="primary-nav"
          onClick={() => setNavOpen((o) => !o)}
        >
          ☰<span className="sr-only">Menu</span>
        </Button>
        <span className="brand">TaylorDash</span>
        <span className="header-spacer" />
        <LiveIndicator />
        <Clock />
        <UserMenu />
      </header>
      <nav id="primary-nav" className={`shell-nav${navOpen ? ' open' : ''}`} aria-label="Main" onClick={() => setNavOpen(false)}>
        <NavLink to="/" end>
          Dashboard
        </NavLink>
        <NavLink to="/projects">Projects</NavLink>
        <NavLink to="/canvas">Canvas</NavLink>
        <NavLink to="/events">Events</NavLink>
        <AlertsLink />
        <NavLink to="/settings">Settings</NavLink>
        {isAdmin && <NavLink to="/logs">Logs</NavLink>}
        {isAdmin && <NavLink to="/admin">Admin</NavLink>}
      </nav>
      <main id="main" className="shell-main" tabIndex={-1}>
        <ConnectionBanner />
        <SessionExpiryWarning />
        <Outlet />
      </main>
    </div>
  );
}

/** "Alerts" in the navigation, with how many fire now (kept current from the live stream). */
function AlertsLink() {
  useLiveAlerts();
  const firing = useOpenAlerts().data?.firing ?? 0;
  return (
    <NavLink to="/alerts">
      Alerts
      {firing > 0 && (
        <span className="nav-count" data-testid="alerts-badge" title={`${firing} firing`}>
          {firing}
          <span className="sr-only"> firing</span>
        </span>
      )}
    </NavLink>
  );
}

export function Clock({ seconds = false }: { seconds?: boolean }) {
  const [now, setNow] = useState(() => new Date());
  useEffect(() => {
    const t = setInterval(() => setNow(new Date()), 1000);
    return () => clearInterval(t);
  }, []);
  return (
    <time className="clock" dateTime={now.toISOString()}>
      {now.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', ...(seconds ? { second: '2-digit' } : {}) })}
    </time>
  );
}

const STATUS_LABEL = { open: 'Live', connecting: 'Connecting…', offline: 'Offline' } as const;

export function LiveIndicator() {
  const { status, staleSince } = useLiveStream();
  return (
    <span
      className={`live-indicator live-${status}`}
      role="status"
      aria-live="polite"
      data-status={status}
      title={staleSince !== null ? `No connection to the server since ${clockTime(staleSince)}` : undefined}
    >
      <span className="live-dot" aria-hidden="true" />
      <span className="live-label">{STATUS_LABEL[status]}</span>
      {staleSince !== null && <span className="live-since"> since {clockTime(staleSince)}</span>}
    </span>
  );
}

function UserMenu() {
  const { user, role, logout } = useSession();
  const { theme, setTheme } = useTheme();
  const navigate = useNavigate();
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return;
    const close = (e: MouseEvent) => {
      if (!ref.current?.contains(e.target as Node)) setOpen(false);
    };
    const esc = (e: KeyboardEvent) => e.key === 'Escape' && setOpen(false);
    document.addEventListener('mousedown', close);
    document.addEventListener('keydown', esc);
    return () => {
      document.removeEventListener('mousedown', close);
      document.removeEventListener('keydown', esc);
    };
  }, [open]);
  if (!user) return null;
  return (
    <div className="user-menu" ref={ref}>
      <Button variant="ghost" aria-haspopup="menu" aria-expanded={open} onClick={() => setOpen((o) => !o)}>
        <span className="user-menu-name">{user.username}</span> <span className="muted user-menu-role">({role})</span>
      </Button>
      {open && (
        <div className="user-menu-list" role="menu">
          <button role="menuitem" type="button" onClick={() => setTheme(theme === 'dark' ? 'light' : 'dark')}>
            {theme === 'dark' ? 'Light theme' : 'Dark theme'}
          </button>
          <button
            role="menuitem"
            type="button"
            onClick={() => {
              setOpen(false);
              navigate('/settings');
            }}
          >
            Settings
          </button>
          <button
            role="menuitem"
            type="button"
            onClick={async () => {
              setOpen(false);
              await logout();
              navigate('/login', { replace: true });
            }}
          >
            Sign out
          </button>
        </div>
      )}
    </div>
  );
}
