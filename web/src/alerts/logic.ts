// What the alert screens compute without the server: the order alerts are shown in (firing
// first, then pending, then resolved, newest change first), a silence's duration from what was
// typed ("30m", "2h", "1d"), the channel and rule forms as the bodies the API takes, and the
// short descriptions of a channel's target and a rule's condition.
import type { components } from '../api/schema';

type Schemas = components['schemas'];
export type Alert = Schemas['AlertResponse'];
export type Notification = Schemas['NotificationResponse'];
export type Channel = Schemas['ChannelResponse'];
export type ChannelBody = Schemas['ChannelBody'];
export type Rule = Schemas['RuleResponse'];
export type RuleBody = Schemas['RuleBody'];

const STATE_ORDER: Record<string, number> = { firing: 0, pending: 1, resolved: 2 };

/** Firing first, then pending, then resolved; within each the newest change first. */
export function sortAlerts(alerts: readonly Alert[]): Alert[] {
  return [...alerts].sort(
    (a, b) =>
      (STATE_ORDER[a.state] ?? 3) - (STATE_ORDER[b.state] ?? 3) ||
      Date.parse(b.updated_at) - Date.parse(a.updated_at) ||
      a.id.localeCompare(b.id),
  );
}

/** The alerts that fire now and are neither acknowledged nor silenced: what needs a person. */
export function unhandled(alerts: readonly Alert[]): number {
  return alerts.filter((a) => a.state === 'firing' && !a.acknowledged && !a.silenced_now).length;
}

const UNIT_SECS: Record<string, number> = { m: 60, h: 3600, d: 86_400 };
/** The longest silence the server takes (90 days). */
export const MAX_SILENCE_SECS = 90 * 86_400;

/**
 * A silence's length in seconds from "30m", "2h", "1d" or "90" (minutes); `null` when it is not
 * one, or longer than 90 days.
 */
export function parseDuration(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([mhd]?)\s*$/i.exec(text);
  if (!m) return null;
  const secs = Math.round(Number(m[1]) * (UNIT_SECS[(m[2] || 'm').toLowerCase()] ?? 60));
  return secs > 0 && secs <= MAX_SILENCE_SECS ? secs : null;
}

export const CHANNEL_KINDS = [
  { value: 'email', label: 'E-mail (SMTP)' },
  { value: 'ntfy', label: 'ntfy' },
  { value: 'gotify', label: 'Gotify' },
  { value: 'discord', label: 'Discord webhook' },
  { value: 'slack', label: 'Slack-compatible webhook (Slack, Mattermost, Matrix hookshot)' },
  { value: 'webhook', label: 'Generic webhook (signed JSON)' },
] as const;
export type ChannelKind = (typeof CHANNEL_KINDS)[number]['value'];

/** A field of a channel's form: a config value or a secret (never shown back). */
export interface ChannelField {
  name: string;
  label: string;
  secret?: boolean;
  required?: boolean;
  placeholder?: string;
}

export const CHANNEL_FIELDS: Record<ChannelKind, ChannelField[]> = {
  email: [
    { name: 'host', label: 'SMTP server', required: true, placeholder: 'smtp.example.net' },
    { name: 'port', label: 'Port', placeholder: '587' },
    { name: 'security', label: 'Security' },
    { name: 'username', label: 'Username' },
    { name: 'password', label: 'Password', secret: true },
    { name: 'from', label: 'From', required: true, placeholder: 'taylordash@example.net' },
    { name: 'to', label: 'To (comma-separated)', required: true, placeholder: 'me@example.net' },
  ],
  ntfy: [
    { name: 'server', label: 'Server', placeholder: 'https://ntfy.sh' },
    { name: 'topic', label: 'Topic', required: true },
    { name: 'token', label: 'Access token (optional)', secret: true },
  ],
  gotify: [
    { name: 'server', label: 'Server', required: true, placeholder: 'https://gotify.example.net' },
    { name: 'token', label: 'Application token', secret: true, required: true },
  ],
  discord: [{ name: 'url', label: 'Webhook URL', secret: true, required: true }],
  slack: [{ name: 'url', label: 'Webhook URL', secret: true, required: true }],
  webhook: [
    { name: 'url', label: 'URL', required: true, placeholder: 'https://receiver.example.net/hook' },
    { name: 'signing_key', label: 'Signing key (left empty: generated and shown once)', secret: true },
  ],
};

/** A channel's form as the API's body; empty values are left out (a secret left out is kept). */
export function channelBody(name: string, kind: ChannelKind, values: Record<string, string>, enabled = true): ChannelBody {
  const config: Record<string, unknown> = {};
  const secrets: Record<string, string> = {};
  for (const f of CHANNEL_FIELDS[kind]) {
    const v = (values[f.name] ?? '').trim();
    if (!v) continue;
    if (f.secret) secrets[f.name] = v;
    else if (f.name === 'port') config.port = Number(v);
    else if (f.name === 'to')
      config.to = v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    else config[f.name] = v;
  }
  return { name: name.trim(), kind, config: config as ChannelBody['config'], secrets, enabled };
}

/** Where a channel sends, in a few words (its secrets by name only). */
export function channelTarget(c: Channel): string {
  const cfg = c.config as Record<string, unknown>;
  switch (c.kind) {
    case 'email':
      return `${(cfg.to as string[] | undefined)?.join(', ') ?? ''} via ${String(cfg.host ?? '')}:${String(cfg.port ?? '')}`;
    case 'ntfy':
      return `${String(cfg.server ?? 'https://ntfy.sh')}/${String(cfg.topic ?? '')}`;
    case 'gotify':
      return String(cfg.server ?? '');
    case 'webhook':
      return String(cfg.url ?? '');
    default:
      return c.secrets.includes('url') ? 'webhook URL set' : 'no webhook URL';
  }
}

export const RULE_KINDS = [
  { value: 'check_down', label: 'A check is down' },
  { value: 'cert_expiring', label: 'A certificate expires soon' },
  { value: 'component_blocked', label: 'A component is blocked' },
  { value: 'dead_letters', label: 'Dead letters arrive' },
  { value: 'backup_failed', label: 'A backup failed' },
  { value: 'backup_overdue', label: 'A backup is overdue' },
  { value: 'broker_lost', label: 'The event bus lost its broker' },
  { value: 'metric_threshold', label: 'A metric crosses a threshold' },
] as const;
export type RuleKind = (typeof RULE_KINDS)[number]['value'];

/** A parameter of a rule kind, as typed in the form (numbers as text). */
export interface RuleParam {
  name: string;
  label: string;
  number?: boolean;
  placeholder?: string;
}

export const RULE_PARAMS: Record<RuleKind, RuleParam[]> = {
  check_down: [],
  cert_expiring: [{ name: 'days', label: 'Days before expiry', number: true, placeholder: '14' }],
  component_blocked: [],
  dead_letters: [
    { name: 'threshold', label: 'More than this many', number: true, placeholder: '1' },
    { name: 'window_secs', label: 'Within seconds', number: true, placeholder: '300' },
  ],
  backup_failed: [],
  backup_overdue: [{ name: 'max_age_secs', label: 'Overdue after seconds', number: true, placeholder: '172800' }],
  broker_lost: [],
  metric_threshold: [
    { name: 'query', label: 'PromQL query', placeholder: 'taylordash_outbox_backlog' },
    { name: 'op', label: 'Fires when the value is (> or <)', placeholder: '>' },
    { name: 'threshold', label: 'Threshold', number: true, placeholder: '100' },
  ],
};

export interface RuleForm {
  name: string;
  kind: RuleKind;
  params: Record<string, string>;
  /** Minutes the condition must hold ("" or 0: at once). */
  forMinutes: string;
  severity: 'info' | 'warning' | 'critical';
  channels: string[];
  /** Minutes between repeats while firing ("": none). */
  repeatMinutes: string;
  notifyOnResolve: boolean;
}

/** The rule form as the API's body; an empty parameter is left out (the server's default). */
export function ruleBody(f: RuleForm): RuleBody {
  const params: Record<string, unknown> = {};
  for (const p of RULE_PARAMS[f.kind]) {
    const v = (f.params[p.name] ?? '').trim();
    if (v) params[p.name] = p.number ? Number(v) : v;
  }
  const minutes = (text: string) => (text.trim() ? Math.round(Number(text) * 60) : null);
  return {
    name: f.name.trim(),
    kind: f.kind,
    params: params as RuleBody['params'],
    for_secs: minutes(f.forMinutes) ?? 0,
    severity: f.severity,
    channels: f.channels,
    repeat_secs: minutes(f.repeatMinutes),
    notify_on_resolve: f.notifyOnResolve,
  };
}

/** "for 5 min", "at once", "every 1 h" — a number of seconds in words. */
export function spanText(secs: number): string {
  if (secs % 86_400 === 0) return `${secs / 86_400} d`;
  if (secs % 3600 === 0) return `${secs / 3600} h`;
  if (secs % 60 === 0) return `${secs / 60} min`;
  return `${secs} s`;
}

/** A rule's condition in words. */
export function ruleText(r: Rule): string {
  const kind = RULE_KINDS.find((k) => k.value === r.kind)?.label ?? r.kind;
  const p = r.params as Record<string, unknown>;
  const extra = Object.entries(p)
    .filter(([k]) => k !== 'project_id' && k !== 'check_id')
    .map(([k, v]) => `${k.replace(/_/g, ' ')} ${String(v)}`);
  const held = r.for_secs > 0 ? `for ${spanText(r.for_secs)}` : '';
  return [kind, extra.join(', '), held].filter(Boolean).join(' · ');
}
