// Alerting (admin): the channels notifications go out through — add one (its secrets are sent
// once and never shown back; a generated webhook signing key is shown once, here), send a test,
// turn it off or on, delete it — and the rules that raise alerts: add, turn off or on, delete.
import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { ApiError } from '../../api/client';
import { Badge, Button, ConfirmAction, Empty, ErrorMessage, Loading, Options, useConfirm, useNotify } from '../../app/ui';
import { CopyButton, Field } from '../Events/shared';
import { CHANNELS_KEY, RULES_KEY, alertsApi } from '../../alerts/api';
import {
  CHANNEL_FIELDS, CHANNEL_KINDS, RULE_KINDS, RULE_PARAMS, channelBody, channelTarget, ruleBody, ruleText, spanText,
  type Channel, type ChannelKind, type Rule, type RuleForm, type RuleKind,
} from '../../alerts/logic';
import '../Alerts/alerts.css';

const detail = (e: unknown) => (e instanceof ApiError ? e.detail : String(e));

export function AlertingTab() {
  const channels = useQuery({ queryKey: CHANNELS_KEY, queryFn: alertsApi.channels });
  const rules = useQuery({ queryKey: RULES_KEY, queryFn: alertsApi.rules });
  return (
    <>
      <section className="panel al-section" aria-labelledby="al-channels-title">
        <h2 id="al-channels-title">Channels</h2>
        <p className="muted">Where notifications go. Secrets (passwords, tokens, webhook URLs) are stored and never shown again.</p>
        {channels.isPending ? (
          <Loading label="Loading channels…" />
        ) : channels.isError ? (
          <ErrorMessage error={channels.error} onRetry={() => void channels.refetch()} />
        ) : (
          <Channels channels={channels.data} />
        )}
      </section>
      <section className="panel al-section" aria-labelledby="al-rules-title">
        <h2 id="al-rules-title">Rules</h2>
        <p className="muted">What raises an alert, how severe it is and which channels hear of it.</p>
        {rules.isPending || channels.isPending ? (
          <Loading label="Loading rules…" />
        ) : rules.isError ? (
          <ErrorMessage error={rules.error} onRetry={() => void rules.refetch()} />
        ) : (
          <Rules rules={rules.data} channels={channels.data ?? []} />
        )}
      </section>
    </>
  );
}

function Channels({ channels }: { channels: Channel[] }) {
  const qc = useQueryClient();
  const notify = useNotify();
  const [confirm, confirmDialog] = useConfirm();
  const [signingKey, setSigningKey] = useState<{ name: string; key: string } | null>(null);
  const [testing, setTesting] = useState<string | null>(null);
  const [results, setResults] = useState<Record<string, { ok: boolean; text: string }>>({});
  const refresh = () => void qc.invalidateQueries({ queryKey: CHANNELS_KEY });
  const toggle = useMutation({
    mutationFn: (c: Channel) =>
      alertsApi.updateChannel(c.id, { name: c.name, kind: c.kind, config: c.config, enabled: !c.enabled, version: c.version }),
    onSuccess: (c) => notify(`Channel ${c.name} ${c.enabled ? 'on' : 'off'}.`, 'ok'),
    onError: (e) => notify(detail(e), 'error'),
    onSettled: refresh,
  });
  const remove = useMutation({
    mutationFn: (c: Channel) => alertsApi.deleteChannel(c.id),
    onSuccess: (_r, c) => notify(`Channel ${c.name} deleted.`, 'ok'),
    onError: (e) => notify(detail(e), 'error'),
    onSettled: refresh,
  });
  const test = async (c: Channel) => {
    setTesting(c.id);
    try {
      await alertsApi.testChannel(c.id);
      setResults((r) => ({ ...r, [c.id]: { ok: true, text: 'Test message delivered.' } }));
    } catch (e) {
      setResults((r) => ({ ...r, [c.id]: { ok: false, text: `Test failed: ${detail(e)}` } }));
    } finally {
      setTesting(null);
    }
  };
  return (
    <>
      {confirmDialog}
      {signingKey && (
        <div className="al-once" role="status" data-testid="signing-key">
          <strong>Signing key of {signingKey.name} — shown this once</strong>
          <span className="al-secret">{signingKey.key}</span>
          <span className="muted small">The receiver checks each request's X-TaylorDash-Signature with it (see the operations guide).</span>
          <span className="al-actions">
            <CopyButton text={signingKey.key} label="Copy key" />
            <Button onClick={() => setSigningKey(null)}>Done</Button>
          </span>
        </div>
      )}
      {channels.length === 0 ? (
        <Empty>No channels yet: add one below, then name it in a rule.</Empty>
      ) : (
        <ul className="al-rows" data-testid="channel-list">
          {channels.map((c) => (
            <li key={c.id} className="al-row" data-testid="channel-row" aria-label={`Channel ${c.name}`}>
              <span className="al-row-main">
                <strong>{c.name}</strong>
                <span className="muted small">
                  {CHANNEL_KINDS.find((k) => k.value === c.kind)?.label ?? c.kind} · {channelTarget(c)}
                  {c.secrets.length > 0 && <> · secrets set: {c.secrets.join(', ')}</>}
                </span>
                <TestResult result={results[c.id]} />
              </span>
              {c.enabled ? <Badge tone="ok">on</Badge> : <Badge>off</Badge>}
              <Button busy={testing === c.id} onClick={() => void test(c)}>
                Send test
              </Button>
              <Button onClick={() => toggle.mutate(c)} disabled={toggle.isPending}>
                {c.enabled ? 'Turn off' : 'Turn on'}
              </Button>
              <ConfirmAction
                confirm={confirm}
                question={{ title: `Delete channel ${c.name}?`, message: 'Its queued notifications are dropped and rules stop naming it.', confirmLabel: 'Delete', danger: true }}
                onConfirm={() => remove.mutate(c)}
              >
                Delete
              </ConfirmAction>
            </li>
          ))}
        </ul>
      )}
      <NewChannel
        onCreated={(c) => {
          refresh();
          if (c.signing_key) setSigningKey({ name: c.name, key: c.signing_key });
        }}
      />
    </>
  );
}

function TestResult({ result }: { result?: { ok: boolean; text: string } }) {
  if (!result) return null;
  return (
    <span className={result.ok ? 'al-test-ok' : 'al-test-bad'} role="status" data-testid="channel-test-result">
      {result.text}
    </span>
  );
}

function NewChannel({ onCreated }: { onCreated: (c: Channel & { signing_key?: string | null }) => void }) {
  const notify = useNotify();
  const [name, setName] = useState('');
  const [kind, setKind] = useState<ChannelKind>('email');
  const [values, setValues] = useState<Record<string, string>>({});
  const create = useMutation({
    mutationFn: () => alertsApi.createChannel(channelBody(name, kind, values)),
    onSuccess: (c) => {
      notify(`Channel ${c.name} added.`, 'ok');
      setName('');
      setValues({});
      onCreated(c);
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  return (
    <form className="al-form" aria-label="New channel" onSubmit={submit}>
      <h3>Add a channel</h3>
      <div className="al-grid">
        <Field label="Channel name">{(p) => <input {...p} required value={name} onChange={(e) => setName(e.target.value)} />}</Field>
        <Field label="Kind">
          {(p) => (
            <select
              {...p}
              value={kind}
              onChange={(e) => {
                setKind(e.target.value as ChannelKind);
                setValues({});
              }}
            >
              <Options items={CHANNEL_KINDS} />
            </select>
          )}
        </Field>
        {CHANNEL_FIELDS[kind].map((f) => (
          <Field key={`${kind}-${f.name}`} label={f.label}>
            {(p) =>
              f.name === 'security' ? (
                <select {...p} value={values.security ?? 'starttls'} onChange={(e) => setValues((v) => ({ ...v, security: e.target.value }))}>
                  <Options
                    items={[
                      { value: 'starttls', label: 'STARTTLS (port 587)' },
                      { value: 'tls', label: 'TLS (port 465)' },
                      { value: 'none', label: 'None (a local relay)' },
                    ]}
                  />
                </select>
              ) : (
                <input
                  {...p}
                  type={f.secret ? 'password' : 'text'}
                  autoComplete={f.secret ? 'new-password' : 'off'}
                  required={f.required}
                  placeholder={f.placeholder}
                  value={values[f.name] ?? ''}
                  onChange={(e) => setValues((v) => ({ ...v, [f.name]: e.target.value }))}
                />
              )
            }
          </Field>
        ))}
      </div>
      {create.isError && <ErrorMessage error={create.error} />}
      <span>
        <Button type="submit" variant="primary" busy={create.isPending}>
          Add channel
        </Button>
      </span>
    </form>
  );
}

function Rules({ rules, channels }: { rules: Rule[]; channels: Channel[] }) {
  const qc = useQueryClient();
  const notify = useNotify();
  const [confirm, confirmDialog] = useConfirm();
  const refresh = () => void qc.invalidateQueries({ queryKey: RULES_KEY });
  const names = new Map(channels.map((c) => [c.id, c.name]));
  const toggle = useMutation({
    mutationFn: (r: Rule) =>
      alertsApi.updateRule(r.id, {
        name: r.name,
        kind: r.kind,
        params: r.params,
        for_secs: r.for_secs,
        severity: r.severity,
        channels: r.channels,
        repeat_secs: r.repeat_secs,
        notify_on_resolve: r.notify_on_resolve,
        group_wait_secs: r.group_wait_secs,
        enabled: !r.enabled,
        version: r.version,
      }),
    onSuccess: (r) => notify(`Rule ${r.name} ${r.enabled ? 'on' : 'off'}.`, 'ok'),
    onError: (e) => notify(detail(e), 'error'),
    onSettled: refresh,
  });
  const remove = useMutation({
    mutationFn: (r: Rule) => alertsApi.deleteRule(r.id),
    onSuccess: (_r, r) => notify(`Rule ${r.name} deleted.`, 'ok'),
    onError: (e) => notify(detail(e), 'error'),
    onSettled: refresh,
  });
  return (
    <>
      {confirmDialog}
      {rules.length === 0 ? (
        <Empty>No rules yet: nothing raises an alert of TaylorDash's own (Alertmanager's still arrive).</Empty>
      ) : (
        <ul className="al-rows" data-testid="rule-list">
          {rules.map((r) => (
            <li key={r.id} className="al-row" data-testid="rule-row" aria-label={`Rule ${r.name}`}>
              <span className="al-row-main">
                <strong>{r.name}</strong>
                <span className="muted small">
                  {ruleText(r)} · {r.severity}
                  {r.repeat_secs ? ` · repeats every ${spanText(r.repeat_secs)}` : ''}
                </span>
                <span className="muted small">
                  Notifies: {r.channels.length ? r.channels.map((id) => names.get(id) ?? 'a deleted channel').join(', ') : 'no channel'}
                </span>
              </span>
              {r.enabled ? <Badge tone="ok">on</Badge> : <Badge>off</Badge>}
              <Button onClick={() => toggle.mutate(r)} disabled={toggle.isPending}>
                {r.enabled ? 'Turn off' : 'Turn on'}
              </Button>
              <ConfirmAction
                confirm={confirm}
                question={{ title: `Delete rule ${r.name}?`, message: 'Its open alerts resolve without a notification.', confirmLabel: 'Delete', danger: true }}
                onConfirm={() => remove.mutate(r)}
              >
                Delete
              </ConfirmAction>
            </li>
          ))}
        </ul>
      )}
      <NewRule channels={channels} onCreated={refresh} />
    </>
  );
}

const EMPTY_RULE: RuleForm = {
  name: '',
  kind: 'check_down',
  params: {},
  forMinutes: '',
  severity: 'warning',
  channels: [],
  repeatMinutes: '',
  notifyOnResolve: true,
};

function NewRule({ channels, onCreated }: { channels: Channel[]; onCreated: () => void }) {
  const notify = useNotify();
  const [form, setForm] = useState<RuleForm>(EMPTY_RULE);
  const set = (patch: Partial<RuleForm>) => setForm((f) => ({ ...f, ...patch }));
  const create = useMutation({
    mutationFn: () => alertsApi.createRule(ruleBody(form)),
    onSuccess: (r) => {
      notify(`Rule ${r.name} added.`, 'ok');
      setForm(EMPTY_RULE);
      onCreated();
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  return (
    <form className="al-form" aria-label="New rule" onSubmit={submit}>
      <h3>Add a rule</h3>
      <div className="al-grid">
        <Field label="Rule name">{(p) => <input {...p} required value={form.name} onChange={(e) => set({ name: e.target.value })} />}</Field>
        <Field label="When">
          {(p) => (
            <select {...p} value={form.kind} onChange={(e) => set({ kind: e.target.value as RuleKind, params: {} })}>
              <Options items={RULE_KINDS} />
            </select>
          )}
        </Field>
        {RULE_PARAMS[form.kind].map((param) => (
          <Field key={`${form.kind}-${param.name}`} label={param.label}>
            {(p) => (
              <input
                {...p}
                inputMode={param.number ? 'decimal' : undefined}
                placeholder={param.placeholder}
                value={form.params[param.name] ?? ''}
                onChange={(e) => set({ params: { ...form.params, [param.name]: e.target.value } })}
              />
            )}
          </Field>
        ))}
        <Field label="For minutes" hint="How long it must hold first (empty: at once).">
          {(p) => <input {...p} inputMode="decimal" value={form.forMinutes} onChange={(e) => set({ forMinutes: e.target.value })} />}
        </Field>
        <Field label="Severity">
          {(p) => (
            <select {...p} value={form.severity} onChange={(e) => set({ severity: e.target.value as RuleForm['severity'] })}>
              <Options items={['info', 'warning', 'critical']} />
            </select>
          )}
        </Field>
        <Field label="Repeat every minutes" hint="While firing and not acknowledged (empty: never).">
          {(p) => <input {...p} inputMode="decimal" value={form.repeatMinutes} onChange={(e) => set({ repeatMinutes: e.target.value })} />}
        </Field>
      </div>
      <fieldset className="ck-fields">
        <legend>Notify</legend>
        <div className="al-checks">
          {channels.length === 0 && <span className="muted">No channels yet: add one above.</span>}
          {channels.map((c) => (
            <label key={c.id} className="check">
              <input
                type="checkbox"
                checked={form.channels.includes(c.id)}
                onChange={(e) => set({ channels: e.target.checked ? [...form.channels, c.id] : form.channels.filter((x) => x !== c.id) })}
              />
              {c.name}
            </label>
          ))}
          <label className="check">
            <input type="checkbox" checked={form.notifyOnResolve} onChange={(e) => set({ notifyOnResolve: e.target.checked })} />
            Also when it resolves
          </label>
        </div>
      </fieldset>
      {create.isError && <ErrorMessage error={create.error} />}
      <span>
        <Button type="submit" variant="primary" busy={create.isPending}>
          Add rule
        </Button>
      </span>
    </form>
  );
}
