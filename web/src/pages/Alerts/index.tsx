// Alerts (/alerts, every signed-in role): what fires now first, then pending, then the recent
// resolved ones; each with who acknowledged or silenced it and why, and the notifications sent
// about it. Editors and admins acknowledge and silence (the server audits who and why); viewers
// only read. Live: alert events refetch the lists (the shell's `useLiveAlerts`).
import { useState } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useSession } from '../../app/session';
import { Badge, Button, Dialog, Empty, ErrorMessage, Loading, timeAgo, useNotify } from '../../app/ui';
import { Field, Time } from '../Events/shared';
import { ALERTS_KEY, alertNotificationsKey, alertsApi, recentAlertsKey, useOpenAlerts } from '../../alerts/api';
import { parseDuration, sortAlerts, type Alert } from '../../alerts/logic';
import { ApiError } from '../../api/client';
import './alerts.css';

const detail = (e: unknown) => (e instanceof ApiError ? e.detail : String(e));
const SEVERITY_TONE = { critical: 'bad', warning: 'warn', info: 'info' } as const;
const STATE_LABEL: Record<string, string> = { firing: 'Firing', pending: 'Pending', resolved: 'Resolved' };

export default function AlertsPage() {
  // The shell's badge keeps every alert query current (`useLiveAlerts`).
  const open = useOpenAlerts();
  const recent = useQuery({ queryKey: recentAlertsKey, queryFn: alertsApi.recent });
  const [acting, setActing] = useState<{ alert: Alert; what: 'ack' | 'silence' } | null>(null);

  const openAlerts = sortAlerts(open.data?.alerts ?? []);
  const resolved = sortAlerts((recent.data?.alerts ?? []).filter((a) => a.state === 'resolved'));
  return (
    <section className="page al-page" aria-labelledby="al-title">
      <div className="page-head">
        <h1 id="al-title">Alerts</h1>
      </div>
      {acting?.what === 'ack' && <AckDialog alert={acting.alert} onClose={() => setActing(null)} />}
      {acting?.what === 'silence' && <SilenceDialog alert={acting.alert} onClose={() => setActing(null)} />}
      <section className="panel al-section" aria-labelledby="al-open-title">
        <h2 id="al-open-title">Firing and pending</h2>
        {open.isPending ? (
          <Loading label="Loading alerts…" />
        ) : open.isError ? (
          <ErrorMessage error={open.error} onRetry={() => void open.refetch()} />
        ) : openAlerts.length === 0 ? (
          <Empty>Nothing fires. Rules and channels are set up under Administration → Alerting.</Empty>
        ) : (
          <ul className="al-list" data-testid="open-alerts">
            {openAlerts.map((a) => (
              <AlertCard key={a.id} alert={a} onAct={(what) => setActing({ alert: a, what })} />
            ))}
          </ul>
        )}
      </section>
      <section className="panel al-section" aria-labelledby="al-recent-title">
        <h2 id="al-recent-title">Recently resolved</h2>
        {recent.isPending ? (
          <Loading label="Loading recent alerts…" />
        ) : recent.isError ? (
          <ErrorMessage error={recent.error} onRetry={() => void recent.refetch()} />
        ) : resolved.length === 0 ? (
          <Empty>No resolved alerts yet.</Empty>
        ) : (
          <ul className="al-list" data-testid="resolved-alerts">
            {resolved.map((a) => (
              <AlertCard key={a.id} alert={a} onAct={(what) => setActing({ alert: a, what })} />
            ))}
          </ul>
        )}
      </section>
    </section>
  );
}

function AlertCard({ alert: a, onAct }: { alert: Alert; onAct: (what: 'ack' | 'silence') => void }) {
  const { canEdit } = useSession();
  const [showSent, setShowSent] = useState(false);
  const since = a.state === 'firing' ? (a.firing_since ?? a.active_since) : a.state === 'resolved' ? a.resolved_at : a.active_since;
  return (
    <li className={`al-card al-${a.state}`} data-testid="alert-card" data-state={a.state} aria-label={`${a.name}: ${STATE_LABEL[a.state] ?? a.state}`}>
      <div className="al-card-head">
        <span className={`al-state al-state-${a.state}`}>{STATE_LABEL[a.state] ?? a.state}</span>
        <Badge tone={SEVERITY_TONE[a.severity as keyof typeof SEVERITY_TONE]}>{a.severity}</Badge>
        <strong className="al-name">{a.name}</strong>
        {a.source === 'alertmanager' && <span className="muted small">from Alertmanager</span>}
        {since && (
          <span className="muted small" title={since}>
            since {timeAgo(since)}
          </span>
        )}
      </div>
      {a.summary && a.summary !== a.name && <p className="al-summary">{a.summary}</p>}
      {a.acknowledged && (
        <p className="al-note" data-testid="alert-ack">
          Acknowledged by <strong>{a.acknowledged.by}</strong> <Time iso={a.acknowledged.at} />
          {a.acknowledged.note && <>: {a.acknowledged.note}</>}
        </p>
      )}
      {a.silenced && a.silenced_now && (
        <p className="al-note" data-testid="alert-silence">
          Silenced by <strong>{a.silenced.by}</strong> until <Time iso={a.silenced.until} />
          {a.silenced.reason && <>: {a.silenced.reason}</>}
        </p>
      )}
      <div className="al-actions">
        {canEdit && a.state !== 'resolved' && !a.acknowledged && (
          <Button variant="primary" onClick={() => onAct('ack')}>
            Acknowledge
          </Button>
        )}
        {canEdit && a.state !== 'resolved' && (
          <Button onClick={() => onAct('silence')}>{a.silenced_now ? 'Change silence' : 'Silence'}</Button>
        )}
        <Button variant="ghost" aria-expanded={showSent} onClick={() => setShowSent((s) => !s)}>
          {showSent ? 'Hide notifications' : 'Notifications sent'}
        </Button>
      </div>
      {showSent && <SentNotifications alertId={a.id} />}
    </li>
  );
}

const DELIVERY_TONE = { sent: 'ok', queued: 'warn', failed: 'bad' } as const;

function SentNotifications({ alertId }: { alertId: string }) {
  const q = useQuery({ queryKey: alertNotificationsKey(alertId), queryFn: () => alertsApi.notifications(alertId) });
  if (q.isPending) return <Loading label="Loading notifications…" />;
  if (q.isError) return <ErrorMessage error={q.error} onRetry={() => void q.refetch()} />;
  if (q.data.length === 0) return <p className="muted al-sent-empty">No notification about this alert yet (it may wait for its group, or be silenced).</p>;
  return (
    <table className="al-sent" data-testid="alert-notifications">
      <caption className="sr-only">Notifications about this alert</caption>
      <thead>
        <tr>
          <th scope="col">When</th>
          <th scope="col">Channel</th>
          <th scope="col">Why</th>
          <th scope="col">Delivery</th>
        </tr>
      </thead>
      <tbody>
        {q.data.map((n) => (
          <tr key={n.id}>
            <td>
              <Time iso={n.sent_at ?? n.created_at} />
            </td>
            <td>{n.channel_kind}</td>
            <td>{n.reason}</td>
            <td>
              <Badge tone={DELIVERY_TONE[n.status as keyof typeof DELIVERY_TONE]}>{n.status}</Badge>{' '}
              <span className="muted small">
                {n.attempts} {n.attempts === 1 ? 'attempt' : 'attempts'}
                {n.last_error && <>: {n.last_error}</>}
              </span>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function useAlertAction(onClose: () => void) {
  const qc = useQueryClient();
  const notify = useNotify();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = async (fn: () => Promise<unknown>, done: string) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
      notify(done, 'ok');
      void qc.invalidateQueries({ queryKey: ALERTS_KEY });
      onClose();
    } catch (e) {
      setError(e);
      notify(detail(e), 'error');
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run };
}

function AckDialog({ alert, onClose }: { alert: Alert; onClose: () => void }) {
  const [note, setNote] = useState('');
  const { busy, error, run } = useAlertAction(onClose);
  return (
    <Dialog
      open
      title={`Acknowledge ${alert.name}`}
      onClose={onClose}
      actions={
        <>
          <Button onClick={onClose}>Cancel</Button>
          <Button variant="primary" busy={busy} onClick={() => void run(() => alertsApi.acknowledge(alert.id, note.trim()), `${alert.name} acknowledged.`)}>
            Acknowledge
          </Button>
        </>
      }
    >
      <p>No more repeat notifications about it; it still resolves (and says so) when the problem goes away.</p>
      <Field label="Note (optional)" hint="What is being done; kept in the audit log.">
        {(p) => <input {...p} value={note} maxLength={1000} onChange={(e) => setNote(e.target.value)} />}
      </Field>
      {error !== null && <ErrorMessage error={error} />}
    </Dialog>
  );
}

function SilenceDialog({ alert, onClose }: { alert: Alert; onClose: () => void }) {
  const [duration, setDuration] = useState('1h');
  const [reason, setReason] = useState('');
  const [touched, setTouched] = useState(false);
  const { busy, error, run } = useAlertAction(onClose);
  const secs = parseDuration(duration);
  const invalid = touched && secs === null ? 'A length such as 30m, 2h or 1d (at most 90 days).' : null;
  const save = () => {
    setTouched(true);
    if (secs !== null) void run(() => alertsApi.silence(alert.id, secs, reason.trim()), `${alert.name} silenced for ${duration.trim()}.`);
  };
  return (
    <Dialog
      open
      title={`Silence ${alert.name}`}
      onClose={onClose}
      actions={
        <>
          <Button onClick={onClose}>Cancel</Button>
          {alert.silenced_now && (
            <Button busy={busy} onClick={() => void run(() => alertsApi.silence(alert.id, 0, reason.trim()), `The silence of ${alert.name} ended.`)}>
              End silence
            </Button>
          )}
          <Button variant="primary" busy={busy} onClick={save}>
            Silence
          </Button>
        </>
      }
    >
      <p>No notification about this alert while the silence lasts.</p>
      <Field label="For how long" hint="30m, 2h, 1d… (at most 90 days)" error={invalid}>
        {(p) => <input {...p} value={duration} onChange={(e) => setDuration(e.target.value)} onBlur={() => setTouched(true)} />}
      </Field>
      <Field label="Reason" hint="Kept in the audit log with your name.">
        {(p) => <input {...p} value={reason} maxLength={1000} onChange={(e) => setReason(e.target.value)} />}
      </Field>
      {error !== null && <ErrorMessage error={error} />}
    </Dialog>
  );
}
