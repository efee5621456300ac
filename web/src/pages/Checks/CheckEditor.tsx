// The check editor: every kind with its own fields, the timing (interval, timeout, retries), and
// "Test now", which runs the check as it is in the form, unsaved, once, and shows the result.
// Saving shows the server's own words when it refuses (422 names the field). A new push check's
// URL is shown once, right after it is created.
import { cloneElement, useId, useState, type FormEvent, type ReactElement } from 'react';
import { Button, ErrorMessage, timeAgo } from '../../app/ui';
import { checksApi, type Check, type CheckCreated, type CheckOutcome, type CheckUpdate } from '../../checks/api';
import { asState, formatLatency, HEALTH_LABEL } from '../../checks/status';
import { bodyOf, emptyForm, formOf, KINDS, type CheckForm, type HeaderRow, type Kind } from './form';

interface Props {
  componentId: string;
  /** The check edited; a new one when absent. */
  check?: Check;
  defaults?: { url?: string | null; host?: string | null };
  onSaved: (saved: Check | CheckCreated) => void;
  onCancel: () => void;
}

export function CheckEditor({ componentId, check, defaults, onSaved, onCancel }: Props) {
  const id = useId();
  const [form, setForm] = useState<CheckForm>(() => (check ? formOf(check) : emptyForm('http', defaults)));
  const [dirty, setDirty] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState<'save' | 'test' | null>(null);
  const [tested, setTested] = useState<CheckOutcome | null>(null);
  const [testError, setTestError] = useState<unknown>(null);

  const set = <K extends keyof CheckForm>(k: K, v: CheckForm[K]) => {
    setForm((f) => ({ ...f, [k]: v }));
    setDirty(true);
  };
  const setKind = (kind: Kind) => {
    setForm((f) => ({ ...f, kind }));
    setTested(null);
    setDirty(true);
  };

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setBusy('save');
    setError(null);
    try {
      if (check) {
        const { kind: _kind, ...rest } = bodyOf(form) as unknown as Record<string, unknown>;
        void _kind;
        const body = { ...rest, version: check.version } as unknown as CheckUpdate;
        onSaved(await checksApi.update(check.id, body));
      } else {
        onSaved(await checksApi.create(componentId, bodyOf(form)));
      }
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
    }
  };

  const test = async () => {
    setBusy('test');
    setTested(null);
    setTestError(null);
    try {
      // A saved check as stored (its secret header values are not in the form): run it as
      // it is; anything changed: run what the form says.
      setTested(check && !dirty ? await checksApi.testSaved(check.id) : await checksApi.testUnsaved(componentId, bodyOf(form)));
    } catch (err) {
      setTestError(err);
    } finally {
      setBusy(null);
    }
  };

  const f = form;
  return (
    // The server validates (its 422 names the field); the browser does not stop the request.
    <form className="ck-editor" noValidate onSubmit={(e) => void save(e)} aria-label={check ? `Edit check ${check.name}` : 'New check'} data-testid="check-editor">
      <div className="ck-grid">
        <Field label="Kind">
          <select value={f.kind} disabled={!!check} onChange={(e) => setKind(e.target.value as Kind)}>
            {KINDS.map((k) => (
              <option key={k.value} value={k.value}>
                {k.label}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Name" hint="Defaults to the kind and the target">
          <input value={f.name} maxLength={255} onChange={(e) => set('name', e.target.value)} />
        </Field>
      </div>

      {f.kind === 'http' && (
        <fieldset className="ck-fields">
          <legend>HTTP(S)</legend>
          <div className="ck-grid ck-grid-url">
            <Field label="Method">
              <select value={f.method} onChange={(e) => set('method', e.target.value)}>
                {['GET', 'HEAD', 'POST', 'PUT', 'OPTIONS'].map((m) => (
                  <option key={m}>{m}</option>
                ))}
              </select>
            </Field>
            <Field label="URL">
              <input type="text" inputMode="url" value={f.url} required placeholder="https://nas.lan:5001" onChange={(e) => set('url', e.target.value)} />
            </Field>
          </div>
          <div className="ck-grid">
            <Field label="Accepted status" hint="Codes and ranges, e.g. 200-299,301">
              <input value={f.expectedStatus} placeholder="200-299" onChange={(e) => set('expectedStatus', e.target.value)} />
            </Field>
            <Field label="Keyword" hint="Text the answer must contain">
              <input value={f.keyword} onChange={(e) => set('keyword', e.target.value)} />
            </Field>
            <Field label="Certificate warning (days)" hint="Degraded this close to expiry; 0: never">
              <input type="number" min={0} value={f.certWarnDays} placeholder="14" onChange={(e) => set('certWarnDays', e.target.value)} />
            </Field>
          </div>
          <div className="ck-checks">
            <Tick label="Keyword must be absent" checked={f.keywordAbsent} disabled={!f.keyword} onChange={(v) => set('keywordAbsent', v)} />
            <Tick label="Follow redirects" checked={f.followRedirects} onChange={(v) => set('followRedirects', v)} />
            <Tick label="Allow a self-signed certificate" checked={f.allowSelfSigned} onChange={(v) => set('allowSelfSigned', v)} />
          </div>
          <Headers rows={f.headers} onChange={(rows) => set('headers', rows)} />
        </fieldset>
      )}
      {(f.kind === 'tcp' || f.kind === 'ping') && (
        <fieldset className="ck-fields">
          <legend>{f.kind === 'tcp' ? 'TCP' : 'Ping'}</legend>
          <div className="ck-grid">
            <Field label="Host" hint="A host name or an IP address">
              <input value={f.host} required placeholder="nas.lan" onChange={(e) => set('host', e.target.value)} />
            </Field>
            {f.kind === 'tcp' && (
              <Field label="Port">
                <input type="number" min={1} max={65535} value={f.port} required onChange={(e) => set('port', e.target.value)} />
              </Field>
            )}
          </div>
        </fieldset>
      )}
      {f.kind === 'dns' && (
        <fieldset className="ck-fields">
          <legend>DNS</legend>
          <div className="ck-grid">
            <Field label="Name">
              <input value={f.dnsName} required placeholder="nas.lan" onChange={(e) => set('dnsName', e.target.value)} />
            </Field>
            <Field label="Record">
              <select value={f.recordType} onChange={(e) => set('recordType', e.target.value)}>
                <option>A</option>
                <option>AAAA</option>
              </select>
            </Field>
            <Field label="Server" hint="IP[:port]; empty: the system resolver">
              <input value={f.server} placeholder="192.168.1.1" onChange={(e) => set('server', e.target.value)} />
            </Field>
            <Field label="Expected addresses" hint="One of these must be in the answer (comma-separated)">
              <input value={f.expected} onChange={(e) => set('expected', e.target.value)} />
            </Field>
          </div>
        </fieldset>
      )}
      {f.kind === 'mqtt' && (
        <fieldset className="ck-fields">
          <legend>MQTT heartbeat</legend>
          <div className="ck-grid">
            <Field label="Topic filter" hint="Under tracker/events/#, tracker/commands/# or tracker/metrics/#">
              <input value={f.topicFilter} required placeholder="tracker/metrics/garage/#" onChange={(e) => set('topicFilter', e.target.value)} />
            </Field>
            <Field label="Grace (s)" hint="Extra time before a late message means down">
              <input type="number" min={0} value={f.grace} onChange={(e) => set('grace', e.target.value)} />
            </Field>
          </div>
        </fieldset>
      )}
      {f.kind === 'push' && (
        <fieldset className="ck-fields">
          <legend>Push URL</legend>
          <p className="muted small">
            A secret URL your job calls (GET or POST) each time it runs; no call within the interval (plus the grace) means
            down. The URL is shown once, after saving.
          </p>
          <Field label="Grace (s)">
            <input type="number" min={0} value={f.grace} onChange={(e) => set('grace', e.target.value)} />
          </Field>
        </fieldset>
      )}

      <fieldset className="ck-fields">
        <legend>Timing</legend>
        <div className="ck-grid ck-grid-4">
          <Field label={f.kind === 'push' || f.kind === 'mqtt' ? 'Expected every (s)' : 'Interval (s)'} hint="At least 10">
            <input type="number" min={10} value={f.interval} onChange={(e) => set('interval', e.target.value)} />
          </Field>
          <Field label="Timeout (s)" hint="1-60">
            <input type="number" min={1} max={60} value={f.timeout} placeholder="10" onChange={(e) => set('timeout', e.target.value)} />
          </Field>
          <Field label="Retries" hint="Failures in a row before down">
            <input type="number" min={0} max={10} value={f.retries} placeholder="0" onChange={(e) => set('retries', e.target.value)} />
          </Field>
          <Field label="Retry after (s)">
            <input type="number" min={10} value={f.retryInterval} placeholder="interval" onChange={(e) => set('retryInterval', e.target.value)} />
          </Field>
        </div>
        <div className="ck-checks">
          <Tick label="Counts in the component’s state" checked={f.drivesStatus} onChange={(v) => set('drivesStatus', v)} />
          <Tick label="Paused" checked={f.paused} onChange={(v) => set('paused', v)} />
        </div>
      </fieldset>

      <ErrorMessage error={error} />
      <div className="ck-test" aria-live="polite" id={`${id}-test`}>
        {busy === 'test' && <span className="muted">Testing…</span>}
        {tested && <TestResult outcome={tested} />}
        {testError != null && <ErrorMessage error={testError} />}
      </div>
      <div className="ck-actions">
        <Button onClick={() => void test()} busy={busy === 'test'} aria-describedby={`${id}-test`}>
          Test now
        </Button>
        <span className="ck-spacer" />
        <Button onClick={onCancel}>Cancel</Button>
        <Button type="submit" variant="primary" busy={busy === 'save'} disabled={!!check && !dirty}>
          {check ? 'Save check' : 'Add check'}
        </Button>
      </div>
    </form>
  );
}

/** The result of a "test now". */
export function TestResult({ outcome }: { outcome: CheckOutcome }) {
  const s = asState(outcome.status);
  const latency = formatLatency(outcome.latency_ms);
  return (
    <p className={`ck-result ck-${s}`} role="status" data-testid="test-result" data-status={s}>
      <span className="ck-state">
        <span className="ck-dot" aria-hidden="true" />
        Test: {HEALTH_LABEL[s]}
      </span>
      {latency && <span>{latency}</span>}
      {outcome.error && <span className="ck-result-error">{outcome.error}</span>}
      {outcome.cert_expires_at && <span className="muted">certificate valid until {new Date(outcome.cert_expires_at).toLocaleDateString()}</span>}
      {outcome.last_seen_at && (
        <span className="muted" data-testid="test-last-seen">
          last received {timeAgo(outcome.last_seen_at)}
        </span>
      )}
    </p>
  );
}

/** A labelled input, its hint tied to it as its description (not part of its name). */
function Field({ label, hint, children }: { label: string; hint?: string; children: ReactElement<{ id?: string; 'aria-describedby'?: string }> }) {
  const id = useId();
  return (
    <div className="ck-field">
      <label htmlFor={id}>{label}</label>
      {cloneElement(children, { id, 'aria-describedby': hint ? `${id}-hint` : undefined })}
      {hint && (
        <small id={`${id}-hint`} className="muted">
          {hint}
        </small>
      )}
    </div>
  );
}

function Tick({ label, checked, disabled, onChange }: { label: string; checked: boolean; disabled?: boolean; onChange: (v: boolean) => void }) {
  return (
    <label className="ck-check">
      <input type="checkbox" checked={checked} disabled={disabled} onChange={(e) => onChange(e.target.checked)} />
      {label}
    </label>
  );
}

function Headers({ rows, onChange }: { rows: HeaderRow[]; onChange: (rows: HeaderRow[]) => void }) {
  const patch = (i: number, p: Partial<HeaderRow>) => onChange(rows.map((r, j) => (j === i ? { ...r, ...p } : r)));
  return (
    <div className="ck-headers">
      <span className="ck-headers-title">Headers</span>
      {rows.length === 0 && <small className="muted">None. Values of Authorization, Cookie and secret headers are stored apart and never shown again.</small>}
      {rows.map((r, i) => (
        <div key={i} className="ck-header-row">
          <input aria-label={`Header ${i + 1} name`} placeholder="Name" value={r.name} onChange={(e) => patch(i, { name: e.target.value })} />
          <input
            aria-label={`Header ${i + 1} value`}
            type={r.secret ? 'password' : 'text'}
            autoComplete="off"
            placeholder={r.stored ? 'stored — empty keeps it' : 'Value'}
            value={r.value}
            onChange={(e) => patch(i, { value: e.target.value })}
          />
          <label className="ck-check">
            <input type="checkbox" checked={r.secret} onChange={(e) => patch(i, { secret: e.target.checked })} />
            secret
          </label>
          <Button variant="ghost" aria-label={`Remove header ${r.name || i + 1}`} onClick={() => onChange(rows.filter((_, j) => j !== i))}>
            ✕
          </Button>
        </div>
      ))}
      <div>
        <Button variant="ghost" onClick={() => onChange([...rows, { name: '', value: '', secret: false, stored: false }])}>
          + Add header
        </Button>
      </div>
    </div>
  );
}
