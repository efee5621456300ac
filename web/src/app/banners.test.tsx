import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { SessionContext, type Session } from './session';
import { SessionExpiryWarning } from './banners';

function session(expiresAt: string | null, refresh = vi.fn(async () => {})): Session {
  return {
    user: null, role: 'viewer', canEdit: false, isAdmin: false, loading: false,
    expiresAt, expiresCheckedAt: Date.now(), refresh, logout: async () => {},
  };
}

afterEach(cleanup);

describe('SessionExpiryWarning', () => {
  it('says nothing while the end is far', () => {
    render(
      <SessionContext.Provider value={session(new Date(Date.now() + 3_600_000).toISOString())}>
        <SessionExpiryWarning />
      </SessionContext.Provider>,
    );
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('warns in the last five minutes and "Stay signed in" renews', async () => {
    const refresh = vi.fn(async () => {});
    render(
      <SessionContext.Provider value={session(new Date(Date.now() + 119_000).toISOString(), refresh)}>
        <SessionExpiryWarning />
      </SessionContext.Provider>,
    );
    expect(screen.getByRole('alert').textContent).toContain('Your session ends in 2 min.');
    fireEvent.click(screen.getByRole('button', { name: 'Stay signed in' }));
    await waitFor(() => expect(refresh).toHaveBeenCalledTimes(1));
  });
});
