// "Edit & replay" (admins): the dead letter's message in a JSON editor that says, as you type,
// what the server will refuse (not JSON, not an envelope, a field missing or malformed), with a
// button to fill in the fields that can be made up. "Replay edited copy" sends the copy; the
// dead letter keeps its original message and records the copy. A refusal shows here, once.
import { useId, useMemo, useState } from 'react';
import { useMutation } from '@tanstack/react-query';
import { api, data } from '../../api/client';
import type { components } from '../../api/schema';
import { Button, Dialog, ErrorMessage } from '../../app/ui';
import { checkMessage, FILLABLE, fillMissing } from './dlqEdit';
import { messageText } from './messageText';

type DeadLetter = components['schemas']['DeadLetterResponse'];
type ReplayResult = components['schemas']['ReplayResult'];

export function DeadLetterEditor({
  d, onClose, onReplayed,
}: {
  d: DeadLetter;
  onClose: () => void;
  onReplayed: (r: ReplayResult) => void;
}) {
  const [text, setText] = useState(() => messageText(d.payload));
  const check = useMemo(() => checkMessage(text), [text]);
  const feedbackId = useId();
  const send = useMutation({
    mutationFn: (payload: unknown) =>
      data(
        api.POST('/api/v1/dlq/{dlq_id}/replay-edited', {
          params: { path: { dlq_id: d.id } },
          body: { payload: payload as Record<string, never> },
        }),
      ),
    onSuccess: onReplayed,
  });
  const canFill =
    check.value !== undefined && check.missing.some((f) => (FILLABLE as readonly string[]).includes(f));
  const ok = check.problems.length === 0;

  return (
    <Dialog
      open
      title={`Edit and replay dead letter #${d.id}`}
      onClose={onClose}
      actions={
        <>
          <Button onClick={onClose}>Cancel</Button>
          <Button
            variant="primary"
            disabled={!ok}
            busy={send.isPending}
            onClick={() => {
              send.reset();
              send.mutate(check.value);
            }}
          >
            Replay edited copy
          </Button>
        </>
      }
    >
      <div className="dlq-editor">
        <p className="muted">
          From <code className="mono">{d.original_topic}</code>: {d.failure_reason}. The edited copy is validated and
          stored as a new event; this dead letter keeps the original message and links to the copy.
        </p>
        <label htmlFor={`${feedbackId}-text`}>Message (JSON)</label>
        <textarea
          id={`${feedbackId}-text`}
          className="mono"
          spellCheck={false}
          rows={14}
          value={text}
          aria-invalid={!ok}
          aria-describedby={feedbackId}
          onChange={(e) => {
            setText(e.target.value);
            send.reset();
          }}
        />
        <div id={feedbackId} className={`dlq-feedback${ok ? ' dlq-feedback-ok' : ''}`} aria-live="polite" data-testid="dlq-feedback">
          {ok ? (
            <span>Valid event envelope: ready to replay.</span>
          ) : (
            <ul>
              {check.problems.map((p) => (
                <li key={p}>{p}</li>
              ))}
            </ul>
          )}
          {canFill && (
            <Button
              onClick={() => setText(JSON.stringify(fillMissing(check.value as Record<string, unknown>, d.id), null, 2))}
            >
              Fill in {check.missing.filter((f) => (FILLABLE as readonly string[]).includes(f)).join(', ')}
            </Button>
          )}
        </div>
        {send.error && <ErrorMessage error={send.error} />}
      </div>
    </Dialog>
  );
}
