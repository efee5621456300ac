// Banners shown above every screen: the live connection is down (with a reconnect button), the
// browser is offline, or the session is about to end (with "stay signed in").
import { useEffect, useState } from 'react';
import { useLiveStream } from './live';
import { slidExpiry, useSession } from './session';
import { Button } from './ui';

function useOnline(): boolean {
  const [online, setOnline] = useState(() => navigator.onLine);
  useEffect(() => {
    const on = () => setOnline(true);
    const off = () => setOnline(false);
    window.addEventListener('online', on);
    window.addEventListener('offline', off);
    return () => {
      window.removeEventListener('online', on);
      window.removeEventListener('offline', off);
    };
  }, []);
  return online;
}

export function ConnectionBanner() {
  const { stream, status } = useLiveStream();
  const online = useOnline();
  // Brief blips are normal (a deploy, a restart): only say something after a few seconds.
  const [show, setShow] = useState(false);
  useEffect(() => {
    if (status === 'open' && online) {
      setShow(false);
      return;
    }
    const t = setTimeout(() => setShow(true), 3000);
    return () => clearTimeout(t);
  }, [status, online]);
  if (!show) return null;
  return (
    <div className="banner banner-warn" role="alert">
      <span>
        {online ? 'Connection to the server lost. Live updates are paused; retrying…' : 'You are offline. Live updates are paused.'}
      </span>
      <Button
        onClick={() => stream.reconnect()}
      >
        Reconnect now
      </Button>
    </div>
  );
}

const WARN_BEFORE_MS = 5 * 60_000;

export function SessionExpiryWarning() {
  const { expiresAt: readExpiry, expiresCheckedAt, refresh } = useSession();
  const [now, setNow] = useState(() => Date.now());
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 15_000);
    return () => clearInterval(t);
  }, []);
  const expiresAt = slidExpiry(readExpiry, expiresCheckedAt);
  if (!expiresAt) return null;
  const left = new Date(expiresAt).getTime() - now;
  if (left > WARN_BEFORE_MS) return null;
  const minutes = Math.max(0, Math.ceil(left / 60_000));
  return (
    <div className="banner banner-warn" role="alert">
      <span>
        {left > 0 ? `Your session ends in ${minutes} min.` : 'Your session has ended.'}
      </span>
      <Button
        variant="primary"
        busy={busy}
        onClick={async () => {
          setBusy(true);
          try {
            // Any request slides the session forward; /auth/me also returns the new end.
            await refresh();
          } finally {
            setBusy(false);
          }
        }}
      >
        Stay signed in
      </Button>
    </div>
  );
}
