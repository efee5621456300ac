// API keys: create (name, scope up to my role, expiry) — the key is shown this once, with a copy
// button and a warning —, list (with last use), revoke (with confirmation). Admins can list
// everyone's keys.
import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, ApiError, data } from '../../api/client';
import type { components } from '../../api/schema';
import { useSession } from '../../app/session';
import { Badge, Button, ConfirmAction, Dialog, Empty, ErrorMessage, Loading, Options, timeAgo, useConfirm, useNotify } from '../../app/ui';
import { CopyButton, Field, Time } from '../Events/shared';
import { allowedScopes, EXPIRY_CHOICES, expiryText, keyRequest, type KeyForm, type Scope } from './apiKeys';

type Schemas = components['schemas'];
type ApiKey = Schemas['ApiKeyResponse'];
type Created = Schemas['CreatedApiKey'];

export function ApiKeysTab() {
  const { role, isAdmin } = useSession();
  const qc = useQueryClient();
  const notify = useNotify();
  const [confirm, confirmDialog] = useConfirm();
  const [all, setAll] = useState(false);
  const [created, setCreated] = useState<Created | null>(null);
  const scopes = allowedScopes(role ?? 'viewer');
  const [form, setForm] = useState<KeyForm>({ name: '', scope: 'read', expiry: '90', date: '' });
  const [formError, setFormError] = useState<string | null>(null);

  const key = ['auth', 'api-keys', all] as const;
  // Admins looking at everyone's keys see whose each key is.
  const users = useQuery({
    queryKey: ['auth', 'users'],
    queryFn: () => data(api.GET('/api/v1/auth/users')),
    enabled: isAdmin && all,
  });
  const owner = (id: string) => users.data?.find((u) => u.id === id)?.username ?? id.slice(0, 8);
  const q = useQuery({
    queryKey: key,
    queryFn: () =>
      data(api.GET('/api/v1/auth/api-keys', { params: { query: all ? { all: true } : {} } })),
  });

  const create = useMutation({
    mutationFn: (body: Schemas['ApiKeyCreate']) => data(api.POST('/api/v1/auth/api-keys', { body })),
    onSuccess: (k) => {
      setCreated(k);
      setForm((f) => ({ ...f, name: '' }));
      notify(`API key "${k.name}" created. Copy it now: it is shown only once.`, 'ok');
    },
    onSettled: () => void qc.invalidateQueries({ queryKey: ['auth', 'api-keys'] }),
  });
  const revoke = useMutation({
    mutationFn: (k: ApiKey) =>
      data(api.DELETE('/api/v1/auth/api-keys/{key_id}', { params: { path: { key_id: k.id } } })),
    onSuccess: (_r, k) => notify(`API key "${k.name}" revoked: it no longer works.`, 'ok'),
    onError: (e, k) => notify(`Revoking "${k.name}" failed: ${e instanceof ApiError ? e.detail : String(e)}`, 'error'),
    onSettled: () => void qc.invalidateQueries({ queryKey: ['auth', 'api-keys'] }),
  });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const r = keyRequest(form);
    if ('error' in r) {
      setFormError(r.error);
      return;
    }
    setFormError(null);
    create.mutate(r.body);
  };

  return (
    <>
      {confirmDialog}
      <Dialog
        open={created !== null}
        title="Your new API key"
        onClose={() => setCreated(null)}
        actions={
          <Button variant="primary" onClick={() => setCreated(null)}>
            I have stored it
          </Button>
        }
      >
        {created && (
          <div className="key-once">
            <p className="callout" role="alert">
              Copy this key now and keep it somewhere safe: it is shown <strong>only this once</strong> and cannot be
              retrieved later. Send it as <code>X-API-Key</code> or <code>Authorization: Bearer</code>.
            </p>
            <p>
              <strong>{created.name}</strong> · scope <Badge tone="info">{created.scope}</Badge> · {expiryText(created.expires_at)}
            </p>
            <div className="key-box">
              <code className="mono" data-testid="new-api-key" aria-label="The new API key">
                {created.key}
              </code>
              <CopyButton text={created.key} label="Copy key" />
            </div>
          </div>
        )}
      </Dialog>

      <section className="panel" aria-labelledby="newkey-h">
        <h2 id="newkey-h">Create an API key</h2>
        <form onSubmit={submit} aria-label="Create an API key">
          <div className="form-grid">
            <Field label="Name" error={formError} hint='What uses it, e.g. "backup script".'>
              {(p) => <input {...p} value={form.name} maxLength={100} onChange={(e) => setForm({ ...form, name: e.target.value })} />}
            </Field>
            <Field label="Scope" hint="Never more than your own role.">
              {(p) => (
                <select {...p} value={form.scope} onChange={(e) => setForm({ ...form, scope: e.target.value as Scope })}>
                  <Options items={scopes} />
                </select>
              )}
            </Field>
            <Field label="Expires">
              {(p) => (
                <select {...p} value={form.expiry} onChange={(e) => setForm({ ...form, expiry: e.target.value as KeyForm['expiry'] })}>
                  <Options items={EXPIRY_CHOICES} />
                </select>
              )}
            </Field>
            {form.expiry === 'date' && (
              <Field label="Expiry date">
                {(p) => <input {...p} type="date" value={form.date} onChange={(e) => setForm({ ...form, date: e.target.value })} />}
              </Field>
            )}
            <div className="form-actions">
              <Button type="submit" variant="primary" busy={create.isPending}>
                Create key
              </Button>
            </div>
          </div>
          {create.isError && <ErrorMessage error={create.error} />}
        </form>
      </section>

      <section className="panel" aria-labelledby="keys-h">
        <div className="panel-head">
          <h2 id="keys-h">{all ? 'All API keys' : 'My API keys'}</h2>
          {isAdmin && (
            <label className="check">
              <input type="checkbox" checked={all} onChange={(e) => setAll(e.target.checked)} /> Show everyone's keys
            </label>
          )}
        </div>
        {q.isPending && <Loading label="Loading API keys…" />}
        {q.isError && <ErrorMessage error={q.error} onRetry={() => void q.refetch()} />}
        {q.data && q.data.count === 0 && <Empty>No API keys yet. Create one above for scripts and integrations.</Empty>}
        {q.data && q.data.count > 0 && (
          <div className="table-wrap">
            <table className="data" aria-label="API keys">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  {all && <th scope="col">Owner</th>}
                  <th scope="col">Key</th>
                  <th scope="col">Scope</th>
                  <th scope="col">Created</th>
                  <th scope="col">Last used</th>
                  <th scope="col">Expiry</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {q.data.api_keys.map((k) => {
                  const exp = expiryText(k.expires_at);
                  return (
                    <tr key={k.id}>
                      <td>{k.name}</td>
                      {all && <td>{owner(k.user_id)}</td>}
                      <td className="mono">{k.prefix}…</td>
                      <td>
                        <Badge tone={k.scope === 'admin' ? 'warn' : 'info'}>{k.scope}</Badge>
                      </td>
                      <td>
                        <Time iso={k.created_at} />
                      </td>
                      <td>{k.last_used_at ? timeAgo(k.last_used_at) : <span className="muted">never</span>}</td>
                      <td>{exp === 'expired' ? <Badge tone="warn">expired</Badge> : exp}</td>
                      <td className="actions">
                        <ConfirmAction
                          confirm={confirm}
                          question={{
                            title: `Revoke API key "${k.name}"?`,
                            message: (
                              <p>
                                Anything using <code className="mono">{k.prefix}…</code> stops working at once. This cannot
                                be undone.
                              </p>
                            ),
                            confirmLabel: 'Revoke key',
                            danger: true,
                          }}
                          onConfirm={() => revoke.mutate(k)}
                          busy={revoke.isPending && revoke.variables?.id === k.id}
                          aria-label={`Revoke API key ${k.name}`}
                        >
                          Revoke
                        </ConfirmAction>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </>
  );
}
