// The signed-in user: `/auth/me` through react-query, shared by every screen. `useSession()`
// gives `{ user, role, canEdit, isAdmin }`; `null` user means "not signed in" (401).
import { createContext, useCallback, useContext, useEffect, useMemo, type ReactNode } from 'react';
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
  /** Refetch `/auth/me` (after login, setup, logout). */
  refresh: () => Promise<void>;
  logout: () => Promise<void>;
}

export const ME_KEY = ['auth', 'me'] as const;

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
  }, [qc]);

  const logout = useCallback(async () => {
    try {
      await api.POST('/api/v1/auth/logout');
    } catch {
      // Already gone or offline: forgetting locally is what matters.
    }
    qc.clear();
    qc.setQueryData(ME_KEY, null);
  }, [qc]);

  const value = useMemo<Session>(() => {
    const user: User | null = me.data ?? null;
    const role = user?.role ?? null;
    return {
      user,
      role,
      canEdit: role === 'editor' || role === 'admin',
      isAdmin: role === 'admin',
      expiresAt: me.data?.session_expires_at ?? null,
      expiresCheckedAt: me.dataUpdatedAt,
      loading: me.isPending,
      refresh,
      logout,
    };
  }, [me.data, me.dataUpdatedAt, me.isPending, refresh, logout]);

  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession() outside <SessionProvider>');
  return s;
}
