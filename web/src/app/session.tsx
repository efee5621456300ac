// The signed-in user: `/auth/me` through react-query, shared by every screen. `useSession()`
// gives `{ user, role, canEdit, isAdmin }`; `null` user means "not signed in" (401).
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { api, ApiError, data, lastActivity, onUnauthorized } from '../api/client';
import type { components } from '../api/schema';

export type User = components['schemas']['UserInfo'];
export type Role = components['schemas']['RoleSchema'];

export interface Session {
  user: User | null;
  role: Role | null;
  /** Editors and admins may change projects, components, tasks. */
  canEdit: boolean;
  isAdmin: boolean;
  /** When the session ends if unused (ISO); `/auth/me` itself extends it. */
  expiresAt: string | null;
  /** When `expiresAt` was read (ms); see `slidExpiry`. */
  expiresCheckedAt: number;
  loading: boolean;
  /** How this browser is signed in: `session`, or `forward_auth` (a proxy in front signs in). */
  signedInBy?: string;
  /** The user signed out in this tab (and has not signed in since): no "come back to" address. */
  signedOut?: boolean;
  /** Refetch `/auth/me` (after login, setup). */
  refresh: () => Promise<void>;
  /**
   * Ends the session on the server and in the tab: the user is gone at once (the route guards
   * show the login page, the live stream stops) and every cached query is dropped.
   */
  logout: () => Promise<void>;
}

export const ME_KEY = ['auth', 'me'] as const;

function isMeKey(key: readonly unknown[]): boolean {
  return key.length === ME_KEY.length && key.every((k, i) => k === ME_KEY[i]);
}

type Me = components['schemas']['Me'];

async function fetchMe(): Promise<Me | null> {
  try {
    return await data(api.GET('/api/v1/auth/me'));
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return null;
    throw e;
  }
}

/**
 * The session's end as of the latest call, not only the latest `/auth/me`: every call made more
 * than a minute after the previous one slid it forward by the same idle lifetime.
 */
export function slidExpiry(expiresAt: string | null, fetchedAt: number, lastCall = lastActivity()): string | null {
  if (!expiresAt || !fetchedAt) return expiresAt;
  const moved = lastCall - fetchedAt;
  if (moved < 60_000) return expiresAt;
  return new Date(new Date(expiresAt).getTime() + moved).toISOString();
}

export const SessionContext = createContext<Session | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const qc = useQueryClient();
  const me = useQuery({ queryKey: ME_KEY, queryFn: fetchMe, staleTime: 60_000, retry: false });
  // Set by `logout()` in the same render as the navigation it causes, so no screen (the login
  // page least of all) can see the old user for a moment and send the browser back.
  const [signedOut, setSignedOut] = useState(false);

  // Any 401 from any call: the session is gone; forget the user (the router sends to /login).
  useEffect(
    () =>
      onUnauthorized(() => {
        if (qc.getQueryData(ME_KEY)) qc.setQueryData(ME_KEY, null);
      }),
    [qc],
  );

  const refresh = useCallback(async () => {
    await qc.invalidateQueries({ queryKey: ME_KEY });
    await qc.refetchQueries({ queryKey: ME_KEY });
    setSignedOut(false);
  }, [qc]);

  const signedInBy = me.data?.signed_in_by;
  const proxyLogout = me.data?.logout_url ?? null;
  const logout = useCallback(async () => {
    if (signedInBy === 'forward_auth') {
      // Signed in by the proxy in front: only its logout page ends that sign-in.
      if (proxyLogout) {
        window.location.assign(proxyLogout);
        return;
      }
    } else {
      try {
        const { data: out } = await api.POST('/api/v1/auth/logout');
        if (out?.logout_url) {
          // Signed in through an OpenID provider: end its session too (it comes back to /login).
          window.location.assign(out.logout_url);
          return;
        }
      } catch {
        // Already gone or offline: forgetting locally is what matters.
      }
    }
    // Not `qc.clear()`: that would also drop the `/auth/me` query this provider observes, and
    // the observer would keep the old user while a new, empty entry took its place.
    await qc.cancelQueries();
    setSignedOut(true);
    qc.setQueryData(ME_KEY, null);
    qc.removeQueries({ predicate: (q) => !isMeKey(q.queryKey) });
  }, [qc, signedInBy, proxyLogout]);

  const value = useMemo<Session>(() => {
    const user: User | null = signedOut ? null : (me.data ?? null);
    const role = user?.role ?? null;
    return {
      user,
      role,
      canEdit: role === 'editor' || role === 'admin',
      isAdmin: role === 'admin',
      expiresAt: user ? (me.data?.session_expires_at ?? null) : null,
      expiresCheckedAt: me.dataUpdatedAt,
      loading: !signedOut && me.isPending,
      signedInBy: user ? signedInBy : undefined,
      signedOut,
      refresh,
      logout,
    };
  }, [me.data, me.dataUpdatedAt, me.isPending, signedOut, refresh, logout, signedInBy]);

  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession() outside <SessionProvider>');
  return s;
}
