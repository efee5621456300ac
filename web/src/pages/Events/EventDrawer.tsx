// The detail of one event: formatted JSON payload, trace id (with a link to every event of that
// trace), ids and times. Opened by `?event=<id>` so a detail can be linked; closing removes it.
import { Link } from 'react-router';
import { useQuery } from '@tanstack/react-query';
import { api, data } from '../../api/client';
import type { LiveEvent } from '../../live/stream';
import { Drawer, ErrorMessage, Loading } from '../../app/ui';
import { CopyButton, Time } from './shared';
import './events.css';

export const eventKey = (id: number) => ['events', 'one', id] as const;

export function EventDrawer({ id, onClose }: { id: number; onClose: () => void }) {
  const q = useQuery({
    queryKey: eventKey(id),
    queryFn: () => data(api.GET('/api/v1/events/{event_id}', { params: { path: { event_id: id } } })),
    staleTime: Infinity,
  });

  return (
    <Drawer title={`Event #${id}`} closeLabel="Close event detail" onClose={onClose}>
      {q.isPending && <Loading label="Loading the event…" />}
      {q.isError && <ErrorMessage error={q.error} onRetry={() => void q.refetch()} />}
      {q.data && <EventDetail event={q.data} />}
    </Drawer>
  );
}

function EventDetail({ event }: { event: LiveEvent }) {
  const json = JSON.stringify(event.payload, null, 2);
  const traceLink = `/events?tab=history&trace_id=${encodeURIComponent(event.trace_id)}`;
  return (
    <>
      <dl className="props">
        <dt>Topic</dt>
        <dd className="mono">{event.topic}</dd>
        <dt>Kind</dt>
        <dd className="mono">{event.kind}</dd>
        <dt>Source</dt>
        <dd>{event.source}</dd>
        <dt>Trace id</dt>
        <dd>
          <span className="mono" data-testid="trace-id">
            {event.trace_id}
          </span>
          <br />
          <Link to={traceLink}>
            All events of this trace
          </Link>
        </dd>
        <dt>Idempotency key</dt>
        <dd className="mono">{event.idempotency_key}</dd>
        <dt>Happened</dt>
        <dd>
          <Time iso={event.ts} />
        </dd>
        <dt>Received</dt>
        <dd>
          <Time iso={event.created_at} />
        </dd>
      </dl>
      <div className="drawer-payload-head">
        <h3>Payload</h3>
        <CopyButton text={json} label="Copy JSON" />
      </div>
      <pre className="json" tabIndex={0} aria-label="Payload as JSON">
        {json}
      </pre>
    </>
  );
}
