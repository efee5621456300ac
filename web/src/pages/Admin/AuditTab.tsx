// Audit log (admin): who did what, when, from where; filterable by action, actor, target and
// time, paged. Filters and page are in the URL. New entries arrive on the event stream
// (`tracker/events/auth/#`) and refresh the first page.
import { useEffect, useState, type FormEvent } from 'react';
import { keepPreviousData, useQuery, useQueryClient } from '@tanstack/react-query';
import { useSearchParams } from 'react-router';
import { api, data } from '../../api/client';
import { useLiveEvents } from '../../app/live';
import { Badge, Button, Empty, ErrorMessage, Loading } from '../../app/ui';
import { isoToLocal, localToIso } from '../Events/params';
import { Field, Pager, Time } from '../Events/shared';
import { AUDIT_ACTIONS, auditQuery, pageCount, parseAudit, withAudit, withPage, type AuditFilters } from './auditParams';
import { useUsers } from './UsersTab';

const tone = (action: string) =>
  /failed|locked|deleted|revoked/.test(action) ? 'warn' : /created|success/.test(action) ? 'ok' : 'info';

export function AuditTab() {
  const [sp, setSp] = useSearchParams();
  const qc = useQueryClient();
  const { filters, page } = parseAudit(sp);
  const users = useUsers();
  const toDraft = (f: AuditFilters): AuditFilters => ({ ...f, since: isoToLocal(f.since), until: isoToLocal(f.until) });
  const [draft, setDraft] = useState(() => toDraft(filters));
  const key = JSON.stringify(filters);
  useEffect(() => setDraft(toDraft(filters)), [key]); // eslint-disable-line react-hooks/exhaustive-deps

  const query = auditQuery(filters, page);
  const q = useQuery({
    queryKey: ['audit', query],
    queryFn: () => data(api.GET('/api/v1/audit', { params: { query } })),
    placeholderData: keepPreviousData,
  });
  useLiveEvents('tracker/events/auth/#', () => {
    if (page === 1) void qc.invalidateQueries({ queryKey: ['audit'] });
  });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setSp(withAudit(sp, { ...draft, since: localToIso(draft.since), until: localToIso(draft.until) }));
  };
  const reset = () => setSp(withAudit(sp, { action: '', actor_id: '', target_id: '', since: '', until: '' }));
  const set = (k: keyof AuditFilters) => (e: { target: { value: string } }) => setDraft((d) => ({ ...d, [k]: e.target.value }));
  const userOptions = (users.data ?? []).map((u) => (
    <option key={u.id} value={u.id}>
      {u.username}
    </option>
  ));

  const pages = q.data ? pageCount(q.data.total) : 1;
  return (
    <>
      <form className="panel" onSubmit={submit} aria-label="Audit filters">
        <div className="form-grid">
          <Field label="Action">
            {(p) => (
              <select {...p} value={draft.action} onChange={set('action')}>
                <option value="">Any action</option>
                {AUDIT_ACTIONS.map((a) => (
                  <option key={a} value={a}>
                    {a}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field label="By user">
            {(p) => (
              <select {...p} value={draft.actor_id} onChange={set('actor_id')}>
                <option value="">Anyone</option>
                {userOptions}
              </select>
            )}
          </Field>
          <Field label="About user">
            {(p) => (
              <select {...p} value={draft.target_id} onChange={set('target_id')}>
                <option value="">Anyone</option>
                {userOptions}
              </select>
            )}
          </Field>
          <Field label="Since">
            {(p) => <input {...p} type="datetime-local" value={draft.since} onChange={set('since')} />}
          </Field>
          <Field label="Before">
            {(p) => <input {...p} type="datetime-local" value={draft.until} onChange={set('until')} />}
          </Field>
          <div className="form-actions">
            <Button type="submit" variant="primary">
              Apply filters
            </Button>
            <Button onClick={reset}>Reset</Button>
          </div>
        </div>
      </form>
      {q.isPending && <Loading label="Loading the audit log…" />}
      {q.isError && <ErrorMessage error={q.error} onRetry={() => void q.refetch()} />}
      {q.data && q.data.total === 0 && <Empty>No audit entries match these filters.</Empty>}
      {q.data && q.data.count > 0 && (
        <>
          <p className="muted" role="status">
            {q.data.total} entr{q.data.total === 1 ? 'y' : 'ies'}, newest first{q.isFetching ? ' (refreshing…)' : ''}
          </p>
          <div className="table-wrap">
            <table className="data" aria-label="Audit log">
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">Action</th>
                  <th scope="col">By</th>
                  <th scope="col">About</th>
                  <th scope="col">Address</th>
                  <th scope="col">Details</th>
                </tr>
              </thead>
              <tbody>
                {q.data.entries.map((a) => (
                  <tr key={a.id}>
                    <td className="nowrap">
                      <Time iso={a.created_at} />
                    </td>
                    <td>
                      <Badge tone={tone(a.action)}>{a.action}</Badge>
                    </td>
                    <td>{a.actor_name ?? <span className="muted">—</span>}</td>
                    <td>{a.target_name ?? <span className="muted">—</span>}</td>
                    <td className="mono">{a.ip_address ?? '—'}</td>
                    <td className="mono audit-details">{Object.keys(a.details).length ? JSON.stringify(a.details) : ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
      {q.data && q.data.total > 0 && (
        <Pager
          label="Audit pages"
          status={`Page ${page} of ${pages}`}
          onPrev={page > 1 ? () => setSp(withPage(sp, page - 1)) : undefined}
          onNext={page < pages ? () => setSp(withPage(sp, page + 1)) : undefined}
        />
      )}
    </>
  );
}
