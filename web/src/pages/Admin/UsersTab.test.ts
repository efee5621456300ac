import { describe, expect, it } from 'vitest';
import { userPatch, viewOptions } from './UsersTab';

const viewer = { role: 'viewer' as const, single_view_mode: false, default_view: null, is_active: true };
const same = { role: 'viewer' as const, kiosk: false, view: '', active: true, password: '' };

describe('user edit patch', () => {
  it('is null when nothing changed', () => {
    expect(userPatch(viewer, same)).toBeNull();
  });

  it('sends only what changed', () => {
    expect(userPatch(viewer, { ...same, role: 'editor' })).toEqual({ role: 'editor' });
    expect(userPatch(viewer, { ...same, kiosk: true, view: ' events ' })).toEqual({ single_view_mode: true, default_view: 'events' });
    expect(userPatch(viewer, { ...same, active: false, password: 'a long new password' })).toEqual({
      is_active: false,
      password: 'a long new password',
    });
  });

  it('clears the default view with an empty string', () => {
    expect(userPatch({ ...viewer, default_view: 'projects' }, same)).toEqual({ default_view: '' });
  });

  it('never puts an admin in kiosk mode', () => {
    expect(userPatch({ ...viewer, single_view_mode: true }, { ...same, role: 'admin', kiosk: true })).toEqual({
      role: 'admin',
      single_view_mode: false,
    });
  });
});

describe('default view choices', () => {
  it('name each view once (no view set is the dashboard)', () => {
    const labels = viewOptions('').map((o) => o.label);
    expect(labels).toEqual(['Dashboard (default)', 'Projects', 'Events']);
    expect(viewOptions('dashboard').map((o) => o.value)).toEqual(['', 'projects', 'events']);
  });

  it('keep a stored view this UI does not know', () => {
    expect(viewOptions('garage').map((o) => o.value)).toEqual(['', 'projects', 'events', 'garage']);
  });
});
