// Users (admin): create; edit role, kiosk options (`single_view_mode`, `default_view`) and
// password; activate/deactivate; delete with confirmation. The server refuses changes that would
// leave no active admin (LAST_ADMIN) and its detail is shown as it is.
import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, ApiError, data } from '../../api/client';
import type { components } from '../../api/schema';
import { useSession } from '../../app/session';
import { useLiveEvents } from '../../app/live';
import { Badge, Button, ConfirmAction, Dialog, Empty, ErrorMessage, Loading, Options, timeAgo, useConfirm, useNotify } from '../../app/ui';
import { Field, Time } from '../Events/shared';

type Schemas = components['schemas'];
type User = Schemas['UserInfo'];
type Role = Schemas['RoleSchema'];
export const USERS_KEY = ['auth', 'users'] as const;
const ROLES: Role[] = ['viewer', 'editor', 'admin'];
/** The views the kiosk screen can show (pages/Kiosk.tsx). */
export const VIEWS = ['dashboard', 'projects', 'events'];

/**
 * The "Default view" choices, each once: none set means the dashboard, so "dashboard" is not
 * listed again; a stored view this UI does not know stays choosable as it is.
 */
export function viewOptions(current: string): { value: string; label: string }[] {
  const known = [
    { value: '', label: 'Dashboard (default)' },
    { value: 'projects', label: 'Projects' },
    { value: 'events', label: 'Events' },
  ];
  return current && !VIEWS.includes(current) ? [...known, { value: current, label: current }] : known;
}

export function useUsers() {
  return useQuery({ queryKey: USERS_KEY, queryFn: () => data(api.GET('/api/v1/auth/users')) });
}

const detail = (e: unknown) => (e instanceof ApiError ? e.detail : String(e));

export function UsersTab() {
  const qc = useQueryClient();
  const notify = useNotify();
  const { user: me } = useSession();
  const [confirm, confirmDialog] = useConfirm();
  const [editing, setEditing] = useState<User | null>(null);
  const [rowError, setRowError] = useState<{ id: string; error: unknown } | null>(null);
  const q = useUsers();
  const invalidate = () => {
    void qc.invalidateQueries({ queryKey: USERS_KEY });
    void qc.invalidateQueries({ queryKey: ['audit'] });
  };
  // Changes by another admin (audit entries arrive on the stream) refresh the list.
  useLiveEvents('tracker/events/auth/#', (e) => {
    if (/user_|role_|password_/.test(e.kind)) void qc.invalidateQueries({ queryKey: USERS_KEY });
  });

  const update = useMutation({
    mutationFn: ({ id, body }: { id: string; body: Schemas['UserUpdate'] }) =>
      data(api.PUT('/api/v1/auth/users/{user_id}', { params: { path: { user_id: id } }, body })),
    onMutate: () => setRowError(null),
    onSettled: invalidate,
  });
  const remove = useMutation({
    mutationFn: (u: User) => data(api.DELETE('/api/v1/auth/users/{user_id}', { params: { path: { user_id: u.id } } })),
    onMutate: () => setRowError(null),
    onSuccess: (_r, u) => notify(`User ${u.username} deleted.`, 'ok'),
    onError: (e, u) => {
      setRowError({ id: u.id, error: e });
      notify(`Deleting ${u.username} failed: ${detail(e)}`, 'error');
    },
    onSettled: invalidate,
  });

  const resetTotp = useMutation({
    mutationFn: (u: User) =>
      data(api.DELETE('/api/v1/auth/users/{user_id}/totp', { params: { path: { user_id: u.id } } })),
    onMutate: () => setRowError(null),
    onSuccess: (_r, u) => notify(`Two-factor sign-in of ${u.username} reset.`, 'ok'),
    onError: (e, u) => {
      setRowError({ id: u.id, error: e });
      notify(`Resetting two-factor sign-in of ${u.username} failed: ${detail(e)}`, 'error');
    },
    onSettled: invalidate,
  });

  const toggleActive = (u: User) =>
    update.mutate(
      { id: u.id, body: { is_active: !u.is_active } },
      {
        onSuccess: () => notify(`User ${u.username} ${u.is_active ? 'deactivated: their sessions ended' : 'activated'}.`, 'ok'),
        onError: (e) => {
          setRowError({ id: u.id, error: e });
          notify(`Changing ${u.username} failed: ${detail(e)}`, 'error');
        },
      },
    );

  return (
    <>
      {confirmDialog}
      <CreateUser onCreated={invalidate} />
      {editing && (
        <EditUser
          user={editing}
          onClose={() => setEditing(null)}
          onSave={(body) =>
            update.mutate(
              { id: editing.id, body },
              {
                onSuccess: (u) => {
                  notify(`User ${u.username} saved.`, 'ok');
                  setEditing(null);
                },
              },
            )
          }
          saving={update.isPending}
          error={update.isError && update.variables?.id === editing.id ? update.error : null}
        />
      )}
      <section className="panel" aria-labelledby="users-h">
        <h2 id="users-h">Users</h2>
        {q.isPending && <Loading label="Loading users…" />}
        {q.isError && <ErrorMessage error={q.error} onRetry={() => void q.refetch()} />}
        {q.data && q.data.length === 0 && <Empty>No users.</Empty>}
        {q.data && q.data.length > 0 && (
          <div className="table-wrap">
            <table className="data" aria-label="Users">
              <thead>
                <tr>
                  <th scope="col">User</th>
                  <th scope="col">Role</th>
                  <th scope="col">Status</th>
                  <th scope="col">Kiosk</th>
                  <th scope="col">Last sign-in</th>
                  <th scope="col">Created</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {q.data.map((u) => (
                  <tr key={u.id} data-testid={`user-${u.username}`}>
                    <td>
                      {u.username} {u.id === me?.id && <Badge>you</Badge>}
                      {rowError?.id === u.id && <ErrorMessage error={rowError.error} />}
                    </td>
                    <td>
                      <Badge tone={u.role === 'admin' ? 'warn' : 'info'}>{u.role}</Badge>
                    </td>
                    <td>{u.is_active ? <Badge tone="ok">active</Badge> : <Badge tone="warn">inactive</Badge>}</td>
                    <td>{u.single_view_mode ? `on: ${u.default_view || 'dashboard'}` : <span className="muted">off</span>}</td>
                    <td>{u.last_login ? timeAgo(u.last_login) : <span className="muted">never</span>}</td>
                    <td>
                      <Time iso={u.created_at} />
                    </td>
                    <td className="actions">
                      <Button onClick={() => setEditing(u)} aria-label={`Edit ${u.username}`}>
                        Edit
                      </Button>
                      <Button
                        onClick={() => toggleActive(u)}
                        busy={update.isPending && update.variables?.id === u.id && !editing}
                        aria-label={`${u.is_active ? 'Deactivate' : 'Activate'} ${u.username}`}
                      >
                        {u.is_active ? 'Deactivate' : 'Activate'}
                      </Button>
                      <ConfirmAction
                        confirm={confirm}
                        question={{
                          title: `Delete user ${u.username}?`,
                          message: (
                            <p>The account, its sessions and API keys are removed. The audit log keeps its entries. This cannot be undone.</p>
                          ),
                          confirmLabel: 'Delete user',
                          danger: true,
                        }}
                        onConfirm={() => remove.mutate(u)}
                        busy={remove.isPending && remove.variables?.id === u.id}
                        aria-label={`Delete ${u.username}`}
                      >
                        Delete
                      </ConfirmAction>
                      <ConfirmAction
                        confirm={confirm}
                        variant="secondary"
                        question={{
                          title: `Reset two-factor sign-in of ${u.username}?`,
                          message: (
                            <p>
                              Their authenticator app and recovery codes stop working; they sign in with their password and set
                              two-factor sign-in up again. For a lost phone.
                            </p>
                          ),
                          confirmLabel: 'Reset two-factor',
                          danger: true,
                        }}
                        onConfirm={() => resetTotp.mutate(u)}
                        busy={resetTotp.isPending && resetTotp.variables?.id === u.id}
                        aria-label={`Reset two-factor sign-in of ${u.username}`}
                      >
                        Reset two-factor
                      </ConfirmAction>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </>
  );
}

function KioskFields({
  role, kiosk, view, onKiosk, onView,
}: { role: Role; kiosk: boolean; view: string; onKiosk: (v: boolean) => void; onView: (v: string) => void }) {
  return (
    <>
      <label className="check">
        <input type="checkbox" checked={kiosk && role !== 'admin'} disabled={role === 'admin'} onChange={(e) => onKiosk(e.target.checked)} />
        Kiosk mode (one view, no navigation){role === 'admin' ? ' — not for admins' : ''}
      </label>
      <Field label="Default view" hint="What a kiosk screen shows.">
        {(p) => (
          <select {...p} value={view === 'dashboard' ? '' : view} onChange={(e) => onView(e.target.value)}>
            <Options items={viewOptions(view)} />
          </select>
        )}
      </Field>
    </>
  );
}

function CreateUser({ onCreated }: { onCreated: () => void }) {
  const notify = useNotify();
  const empty = { username: '', password: '', role: 'viewer' as Role, kiosk: false, view: '' };
  const [f, setF] = useState(empty);
  const create = useMutation({
    mutationFn: () =>
      data(api.POST('/api/v1/auth/users', {
        body: {
          username: f.username.trim(),
          password: f.password,
          role: f.role,
          single_view_mode: f.kiosk && f.role !== 'admin',
          default_view: f.view.trim() || null,
        },
      })),
    onSuccess: (u) => {
      notify(`User ${u.username} created as ${u.role}.`, 'ok');
      setF(empty);
      onCreated();
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  return (
    <section className="panel" aria-labelledby="newuser-h">
      <h2 id="newuser-h">Create a user</h2>
      <form onSubmit={submit} aria-label="Create a user">
        <div className="form-grid">
          <Field label="New user name" hint="1-64 characters, no spaces.">
            {(p) => <input {...p} required autoComplete="off" value={f.username} onChange={(e) => setF({ ...f, username: e.target.value })} />}
          </Field>
          <Field label="Initial password" hint="12+ characters, not a common password.">
            {(p) => (
              <input {...p} required type="password" autoComplete="new-password" value={f.password} onChange={(e) => setF({ ...f, password: e.target.value })} />
            )}
          </Field>
          <Field label="Role">
            {(p) => (
              <select {...p} value={f.role} onChange={(e) => setF({ ...f, role: e.target.value as Role })}>
                <Options items={ROLES} />
              </select>
            )}
          </Field>
          <KioskFields role={f.role} kiosk={f.kiosk} view={f.view} onKiosk={(kiosk) => setF({ ...f, kiosk })} onView={(view) => setF({ ...f, view })} />
          <div className="form-actions">
            <Button type="submit" variant="primary" busy={create.isPending}>
              Create user
            </Button>
          </div>
        </div>
        {create.isError && <ErrorMessage error={create.error} />}
      </form>
    </section>
  );
}

/** The changed fields only (the update is partial); `null` when nothing changed. */
export function userPatch(
  u: Pick<User, 'role' | 'single_view_mode' | 'default_view' | 'is_active'>,
  f: { role: Role; kiosk: boolean; view: string; active: boolean; password: string },
): Schemas['UserUpdate'] | null {
  const body: Schemas['UserUpdate'] = {};
  if (f.role !== u.role) body.role = f.role;
  const kiosk = f.kiosk && f.role !== 'admin';
  if (kiosk !== u.single_view_mode) body.single_view_mode = kiosk;
  // An empty default view clears it.
  if (f.view.trim() !== (u.default_view ?? '')) body.default_view = f.view.trim();
  if (f.active !== u.is_active) body.is_active = f.active;
  if (f.password) body.password = f.password;
  return Object.keys(body).length ? body : null;
}

function EditUser({
  user, onClose, onSave, saving, error,
}: { user: User; onClose: () => void; onSave: (b: Schemas['UserUpdate']) => void; saving: boolean; error: unknown }) {
  const [f, setF] = useState({
    role: user.role,
    kiosk: user.single_view_mode,
    view: user.default_view ?? '',
    active: user.is_active,
    password: '',
  });
  const [note, setNote] = useState<string | null>(null);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const body = userPatch(user, f);
    if (!body) {
      setNote('Nothing changed.');
      return;
    }
    setNote(null);
    onSave(body);
  };
  return (
    <Dialog open title={`Edit ${user.username}`} onClose={onClose}>
      <form onSubmit={submit} className="stack-form" aria-label={`Edit ${user.username}`}>
        <Field label="Role" hint="Changing the role ends the user's sessions.">
          {(p) => (
            <select {...p} value={f.role} onChange={(e) => setF({ ...f, role: e.target.value as Role })}>
              <Options items={ROLES} />
            </select>
          )}
        </Field>
        <KioskFields role={f.role} kiosk={f.kiosk} view={f.view} onKiosk={(kiosk) => setF({ ...f, kiosk })} onView={(view) => setF({ ...f, view })} />
        <label className="check">
          <input type="checkbox" checked={f.active} onChange={(e) => setF({ ...f, active: e.target.checked })} /> Active (may sign in)
        </label>
        <Field label="New password (optional)" hint="Ends the user's sessions.">
          {(p) => <input {...p} type="password" autoComplete="new-password" value={f.password} onChange={(e) => setF({ ...f, password: e.target.value })} />}
        </Field>
        {error ? <ErrorMessage error={error} /> : null}
        {note && <p role="status">{note}</p>}
        <div className="dialog-actions">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" busy={saving}>
            Save
          </Button>
        </div>
      </form>
    </Dialog>
  );
}
