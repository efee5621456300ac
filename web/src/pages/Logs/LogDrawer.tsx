// One log record: every field, the context as formatted JSON, and a link to the events that
// share its trace id. Opened by `?log=<id>` so a record can be linked; closing removes it.
import { Link } from 'react-router';
import { useQuery } from '@tanstack/react-query';
import { api, data } from '../../api/client';
import { Drawer, ErrorMessage, Loading } from '../../app/ui';
import { traceLink } from './params';
import type { LogEntry } from './types';
import { LevelBadge } from './LevelBadge';

export function LogDrawer({ id, onClose }: { id: number; onClose: () => void }) {
  const q = useQuery({
    queryKey: ['logs', 'one', id],
    queryFn: () => data(api.GET('/api/v1/logs/{log_id}', { params: { path: { log_id: id } } })),
  });
  return (
    <Drawer title={`Log record #${id}`} closeLabel="Close log detail" onClose={onClose} className="lv-drawer">
      {q.isPending && <Loading label="Loading the record…" />}
      {q.isError && <ErrorMessage error={q.error} onRetry={() => void q.refetch()} />}
      {q.data && <LogDetail log={q.data} />}
    </Drawer>
  );
}

function LogDetail({ log }: { log: LogEntry }) {
  const trace = traceLink(log.trace_id);
  const rows: [string, string | number | null | undefined][] = [
    ['Service', log.service],
    ['Category', log.category],
    ['Severity', log.severity],
    ['Endpoint', log.method && log.endpoint ? `${log.method} ${log.endpoint}` : log.endpoint],
    ['Status', log.status_code],
    ['Duration', log.duration_ms != null ? `${log.duration_ms} ms` : null],
    ['Error code', log.error_code],
    ['Request id', log.request_id],
    ['User id', log.user_id],
    ['Environment', log.environment],
    ['Version', log.version],
    ['Host', log.host_name],
  ];
  return (
    <>
      <p className="lv-detail-message">
        <LevelBadge level={log.level} /> <span data-testid="log-message">{log.message}</span>
      </p>
      <dl className="lv-props">
        <dt>Time</dt>
        <dd>
          <time dateTime={log.timestamp}>{new Date(log.timestamp).toLocaleString()}</time>
        </dd>
        {rows
          .filter(([, v]) => v !== null && v !== undefined && v !== '')
          .map(([k, v]) => (
            <FieldRow key={k} label={k} value={String(v)} />
          ))}
        <dt>Trace id</dt>
        <dd>
          {log.trace_id ? <span className="lv-mono">{log.trace_id}</span> : <span className="muted">none</span>}
          {trace && (
            <>
              {' '}
              <Link to={trace}>Events with this trace</Link>
            </>
          )}
        </dd>
      </dl>
      {log.details && (
        <section>
          <h3 className="lv-h3">Details</h3>
          <pre className="lv-json">{log.details}</pre>
        </section>
      )}
      {log.stack_trace && (
        <section>
          <h3 className="lv-h3">Stack trace</h3>
          <pre className="lv-json">{log.stack_trace}</pre>
        </section>
      )}
      <section>
        <h3 className="lv-h3">Context</h3>
        <pre className="lv-json" data-testid="log-context" tabIndex={0} aria-label="Context as JSON">
          {JSON.stringify(log.context ?? {}, null, 2)}
        </pre>
      </section>
    </>
  );
}

function FieldRow({ label, value }: { label: string; value: string }) {
  return (
    <>
      <dt>{label}</dt>
      <dd className="lv-mono">{value}</dd>
    </>
  );
}
