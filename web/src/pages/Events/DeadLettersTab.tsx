// Dead letters: messages the bus could not accept, with the reason category and exact detail.
// Editors replay one (it is validated again; stored when it passes now); admins edit one and
// replay the edited copy (the original is kept, and the two are linked), or delete one (after
// confirmation). A failed action says why once, on its row. The list and its count refresh every few seconds and after a reconnect,
// since dead letters are not sent on the event stream.
import { useState } from 'react';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, data } from '../../api/client';
import type { components } from '../../api/schema';
import { useSession } from '../../app/session';
import { useResync } from '../../app/live';
import { Badge, Button, Empty, ErrorMessage, Loading, useConfirm, useNotify } from '../../app/ui';
import { DeadLetterEditor } from './DeadLetterEditor';
import { messageText } from './messageText';
import { Pager, Time } from './shared';

export { messageText };

type DeadLetter = components['schemas']['DeadLetterResponse'];

export const DLQ_PAGE = 50;
export const DLQ_REFRESH_MS = 5_000;
export const dlqKey = (cursor: number | undefined) => ['dlq', 'list', cursor ?? null] as const;

export function useDeadLetters(cursor: number | undefined) {
  return useQuery({
    queryKey: dlqKey(cursor),
    queryFn: () =>
      data(api.GET('/api/v1/dlq', { params: { query: { limit: DLQ_PAGE, ...(cursor !== undefined ? { cursor } : {}) } } })),
    refetchInterval: DLQ_REFRESH_MS,
    placeholderData: keepPreviousData,
  });
}

export function DeadLettersTab({ onOpenEvent }: { onOpenEvent: (id: number) => void }) {
  const qc = useQueryClient();
  const { canEdit, isAdmin } = useSession();
  const notify = useNotify();
  const [confirm, confirmDialog] = useConfirm();
  const [cursor, setCursor] = useState<number | undefined>(undefined);
  const [stack, setStack] = useState<(number | undefined)[]>([]);
  const [expanded, setExpanded] = useState<number | null>(null);
  const [rowError, setRowError] = useState<{ id: number; error: unknown } | null>(null);
  const [editing, setEditing] = useState<DeadLetter | null>(null);
  const q = useDeadLetters(cursor);
  useResync(() => void qc.invalidateQueries({ queryKey: ['dlq'] }));

  const refresh = () => qc.invalidateQueries({ queryKey: ['dlq'] });

  const replay = useMutation({
    mutationFn: (id: number) => data(api.POST('/api/v1/dlq/{dlq_id}/replay', { params: { path: { dlq_id: id } } })),
    onMutate: () => setRowError(null),
    onSuccess: (r, id) => {
      if (r.status === 'stored' && r.event) {
        notify(`Dead letter #${id} replayed: stored as event #${r.event.id}.`, 'ok');
      } else {
        notify(`Dead letter #${id} replayed: the event had already been stored (duplicate).`, 'ok');
      }
      void qc.invalidateQueries({ queryKey: ['events'] });
    },
    // Said once, on the row (not in a toast as well).
    onError: (error, id) => setRowError({ id, error }),
    onSettled: () => void refresh(),
  });

  const remove = useMutation({
    mutationFn: (id: number) => data(api.DELETE('/api/v1/dlq/{dlq_id}', { params: { path: { dlq_id: id } } })),
    onMutate: () => setRowError(null),
    onSuccess: (_r, id) => notify(`Dead letter #${id} deleted.`, 'ok'),
    onError: (error, id) => setRowError({ id, error }),
    onSettled: () => void refresh(),
  });

  const askDelete = async (d: DeadLetter) => {
    const ok = await confirm({
      title: `Delete dead letter #${d.id}?`,
      message: (
        <p>
          The message from <code className="mono">{d.original_topic}</code> ({d.reason}) is removed for good; it cannot be
          replayed afterwards.
        </p>
      ),
      confirmLabel: 'Delete',
      danger: true,
    });
    if (ok) remove.mutate(d.id);
  };

  const next = q.data?.next_cursor ?? undefined;
  return (
    <>
      {confirmDialog}
      {editing && (
        <DeadLetterEditor
          d={editing}
          onClose={() => setEditing(null)}
          onReplayed={(r) => {
            setEditing(null);
            setRowError(null);
            notify(
              r.status === 'stored' && r.event
                ? `Dead letter #${editing.id} replayed as an edited copy: stored as event #${r.event.id}.`
                : `Dead letter #${editing.id} replayed as an edited copy: the event had already been stored (duplicate).`,
              'ok',
            );
            void qc.invalidateQueries({ queryKey: ['events'] });
            void refresh();
          }}
        />
      )}
      <p className="muted" role="status" aria-live="polite">
        {q.data
          ? `${q.data.pending} dead letter${q.data.pending === 1 ? '' : 's'} waiting for replay${q.isFetching ? ' (refreshing…)' : ''}`
          : ''}
      </p>
      {q.isPending && <Loading label="Loading dead letters…" />}
      {q.isError && <ErrorMessage error={q.error} onRetry={() => void q.refetch()} />}
      {q.data && q.data.count === 0 && (
        <Empty>{cursor === undefined ? 'No dead letters: every message was accepted.' : 'No older dead letters.'}</Empty>
      )}
      {q.data && q.data.count > 0 && (
        <div className="table-wrap">
          <table className="data" aria-label="Dead letters">
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">Received</th>
                <th scope="col">Topic</th>
                <th scope="col">Reason</th>
                <th scope="col">Detail</th>
                <th scope="col">Status</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {q.data.dlq_events.map((d) => (
                <DeadLetterRow
                  key={d.id}
                  d={d}
                  expanded={expanded === d.id}
                  onToggle={() => setExpanded(expanded === d.id ? null : d.id)}
                  canReplay={canEdit}
                  canEditMessage={isAdmin}
                  canDelete={isAdmin}
                  busy={(replay.isPending && replay.variables === d.id) || (remove.isPending && remove.variables === d.id)}
                  onReplay={() => replay.mutate(d.id)}
                  onEdit={() => setEditing(d)}
                  onDelete={() => void askDelete(d)}
                  onOpenEvent={onOpenEvent}
                  error={rowError?.id === d.id ? rowError.error : null}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {q.data && (cursor !== undefined || next !== undefined) && (
        <Pager
          label="Dead-letter pages"
          status={`Page ${stack.length + 1}`}
          onPrev={
            cursor !== undefined
              ? () => {
                  setCursor(stack[stack.length - 1]);
                  setStack((s) => s.slice(0, -1));
                }
              : undefined
          }
          onNext={
            next !== undefined
              ? () => {
                  setStack((s) => [...s, cursor]);
                  setCursor(next);
                }
              : undefined
          }
        />
      )}
    </>
  );
}

function DeadLetterRow({
  d, expanded, onToggle, canReplay, canEditMessage, canDelete, busy, onReplay, onEdit, onDelete, onOpenEvent, error,
}: {
  d: DeadLetter;
  expanded: boolean;
  onToggle: () => void;
  canReplay: boolean;
  canEditMessage: boolean;
  canDelete: boolean;
  busy: boolean;
  onReplay: () => void;
  onEdit: () => void;
  onDelete: () => void;
  onOpenEvent: (id: number) => void;
  error: unknown;
}) {
  const replayed = d.replayed_at != null;
  return (
    <>
      <tr data-testid={`dlq-${d.id}`}>
        <td className="mono">{d.id}</td>
        <td className="nowrap">
          <Time iso={d.created_at} />
        </td>
        <td className="mono dlq-topic">{d.original_topic}</td>
        <td>
          <Badge tone="warn">{d.reason}</Badge>
        </td>
        <td className="dlq-detail">
          {d.failure_reason}
          {error ? (
            <div className="dlq-row-error">
              <ErrorMessage error={error} />
            </div>
          ) : null}
        </td>
        <td className="nowrap">
          {replayed ? (
            <>
              <Badge tone="ok">{d.edited_payload != null ? 'replayed edited copy' : 'replayed'}</Badge>{' '}
              {d.replayed_event_id != null ? (
                <button type="button" className="linkish" onClick={() => onOpenEvent(d.replayed_event_id as number)}>
                  event #{d.replayed_event_id}
                </button>
              ) : (
                <span className="muted">duplicate</span>
              )}
              {d.edited_by && <div className="muted dlq-edited-by">edited by {d.edited_by}</div>}
            </>
          ) : (
            <Badge tone="info">pending</Badge>
          )}
        </td>
        <td className="actions">
          <Button onClick={onToggle} aria-expanded={expanded} aria-controls={`dlq-payload-${d.id}`}>
            {expanded ? 'Hide message' : 'Message'}
          </Button>
          {canReplay && !replayed && (
            <Button variant="primary" onClick={onReplay} busy={busy} aria-label={`Replay dead letter ${d.id}`}>
              Replay
            </Button>
          )}
          {canEditMessage && !replayed && (
            <Button onClick={onEdit} busy={busy} aria-label={`Edit & replay dead letter ${d.id}`}>
              Edit &amp; replay
            </Button>
          )}
          {canDelete && (
            <Button variant="danger" onClick={onDelete} busy={busy} aria-label={`Delete dead letter ${d.id}`}>
              Delete
            </Button>
          )}
        </td>
      </tr>
      {expanded && (
        <tr id={`dlq-payload-${d.id}`}>
          <td colSpan={7}>
            {d.edited_payload != null && <h3 className="dlq-message-title">Original message</h3>}
            <pre className="json" tabIndex={0} aria-label={`Message of dead letter ${d.id}`}>
              {messageText(d.payload)}
            </pre>
            {d.edited_payload != null && (
              <>
                <h3 className="dlq-message-title">
                  Edited copy, replayed{d.edited_by ? ` by ${d.edited_by}` : ''}
                  {d.replayed_event_id != null ? ` as event #${d.replayed_event_id}` : ''}
                </h3>
                <pre className="json" tabIndex={0} aria-label={`Edited copy of dead letter ${d.id}`}>
                  {messageText(d.edited_payload)}
                </pre>
              </>
            )}
          </td>
        </tr>
      )}
    </>
  );
}
