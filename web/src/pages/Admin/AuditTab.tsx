// Audit log (admin): who did what, when, from where; filterable by action, actor, target and
// time, paged. Filters and page are in the URL. New entries arrive on the event stream
// (`tracker/events/auth/#`) and refresh the first page.
import type { FormEvent } from 'react';
import { keepPreviousData, useQuery, useQueryClient } from '@tanstack/react-query';
import { useSearchParams } from 'react-router';
import { api, data } from '../../api/client';
import { useLiveEvents } from '../../app/live';
import { Badge, Button, Empty, ErrorMessage, Loading, Options } from '../../app/ui';
import { useFilterDraft, withPage } from '../../app/ui/filters';
import { Field, Pager, Time } from '../Events/shared';
import { AUDIT_ACTIONS, NO_AUDIT_FILTERS, auditQuery, detailFields, pageCount, parseAudit, withAudit } from './auditParams';
import { useUsers } from './UsersTab';

const tone = (action: string) =>
  /failed|locked|deleted|revoked/.test(action) ? 'warn' : /created|success/.test(action) ? 'ok' : 'info';

export function AuditTab() {
  const [sp, setSp] = useSearchParams();
  const qc = useQueryClient();
  const { filters, page } = parseAudit(sp);
  const users = useUsers();
  const { draft, set, asIso } = useFilterDraft(filters);

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
    setSp(withAudit(sp, asIso));
  };
  const reset = () => setSp(withAudit(sp, NO_AUDIT_FILTERS));
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
                <Options items={AUDIT_ACTIONS} />
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
                    <td className="audit-details">
                      <AuditDetails details={a.details} />
                    </td>
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

/** An entry's details as a small list of labelled fields (nothing when it has none). */
function AuditDetails({ details }: { details: Record<string, unknown> }) {
  const fields = detailFields(details);
  if (fields.length === 0) return null;
  return (
    <dl className="audit-fields">
      {fields.map(([label, text]) => (
        <div key={label}>
          <dt>{label}</dt>
          <dd>{text}</dd>
        </div>
      ))}
    </dl>
  );
}
