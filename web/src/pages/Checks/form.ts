// The check editor's form as plain data: one flat set of text fields for every kind, turned into
// the API's body (only the kind's fields, empty ones left out so the server's defaults apply) and
// back from a stored check. The server validates; its 422 `detail` is what the user sees.
import type { Check, CheckCreate } from '../../checks/api';

export const KINDS = [
  { value: 'http', label: 'HTTP(S)' },
  { value: 'tcp', label: 'TCP port' },
  { value: 'ping', label: 'Ping (ICMP)' },
  { value: 'dns', label: 'DNS' },
  { value: 'mqtt', label: 'MQTT heartbeat' },
  { value: 'push', label: 'Push URL (cron job)' },
] as const;

export type Kind = (typeof KINDS)[number]['value'];

export interface HeaderRow {
  name: string;
  value: string;
  secret: boolean;
  /** A secret header read back: its value is stored but not shown; empty keeps it. */
  stored: boolean;
}

export interface CheckForm {
  kind: Kind;
  name: string;
  interval: string;
  timeout: string;
  retries: string;
  retryInterval: string;
  drivesStatus: boolean;
  paused: boolean;
  // http
  url: string;
  method: string;
  expectedStatus: string;
  keyword: string;
  keywordAbsent: boolean;
  followRedirects: boolean;
  certWarnDays: string;
  allowSelfSigned: boolean;
  headers: HeaderRow[];
  // tcp, ping
  host: string;
  port: string;
  // dns
  dnsName: string;
  recordType: string;
  server: string;
  expected: string;
  // mqtt, push
  topicFilter: string;
  grace: string;
}

export function emptyForm(kind: Kind = 'http', defaults: { url?: string | null; host?: string | null } = {}): CheckForm {
  return {
    kind,
    name: '',
    interval: '60',
    timeout: '',
    retries: '',
    retryInterval: '',
    drivesStatus: true,
    paused: false,
    url: defaults.url ?? '',
    method: 'GET',
    expectedStatus: '',
    keyword: '',
    keywordAbsent: false,
    followRedirects: true,
    certWarnDays: '',
    allowSelfSigned: false,
    headers: [],
    host: defaults.host ?? '',
    port: '',
    dnsName: '',
    recordType: 'A',
    server: '',
    expected: '',
    topicFilter: '',
    grace: '',
  };
}

const text = (v: unknown) => (v === undefined || v === null ? '' : String(v));

/** The form for a stored check (secret headers come back with their names only). */
export function formOf(c: Check): CheckForm {
  const t = (c.target ?? {}) as Record<string, unknown>;
  const kind = (KINDS.some((k) => k.value === c.kind) ? c.kind : 'http') as Kind;
  const headers = Array.isArray(t.headers) ? (t.headers as Record<string, unknown>[]) : [];
  return {
    ...emptyForm(kind),
    name: c.name,
    interval: String(c.interval_secs),
    timeout: String(c.timeout_secs),
    retries: String(c.retries),
    retryInterval: String(c.retry_interval_secs),
    drivesStatus: c.drives_status,
    paused: c.paused,
    url: text(t.url),
    method: text(t.method) || 'GET',
    expectedStatus: text(t.expected_status),
    keyword: text(t.keyword),
    keywordAbsent: t.keyword_absent === true,
    followRedirects: t.follow_redirects !== false,
    certWarnDays: text(t.cert_expiry_warn_days),
    allowSelfSigned: t.allow_self_signed === true,
    headers: headers.map((h) => ({
      name: text(h.name),
      value: text(h.value),
      secret: h.secret === true,
      stored: h.secret === true && h.value === undefined,
    })),
    host: text(t.host),
    port: text(t.port),
    dnsName: text(t.name),
    recordType: text(t.record_type) || 'A',
    server: text(t.server),
    expected: Array.isArray(t.expected) ? (t.expected as unknown[]).map(text).join(', ') : text(t.expected),
    topicFilter: text(t.topic_filter),
    grace: text(t.grace_secs),
  };
}

/** A number typed in a field: the number when it is one, the text otherwise (the server says why). */
function num(v: string): number | string | undefined {
  const s = v.trim();
  if (s === '') return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : s;
}

function put(o: Record<string, unknown>, key: string, v: unknown) {
  if (v === undefined || v === '') return;
  o[key] = v;
}

/** The kind's `target`, only with the fields filled in. */
export function targetOf(f: CheckForm): Record<string, unknown> {
  const t: Record<string, unknown> = {};
  switch (f.kind) {
    case 'http':
      put(t, 'url', f.url.trim());
      if (f.method !== 'GET') put(t, 'method', f.method);
      put(t, 'expected_status', f.expectedStatus.trim());
      put(t, 'keyword', f.keyword);
      if (f.keyword && f.keywordAbsent) t.keyword_absent = true;
      if (!f.followRedirects) t.follow_redirects = false;
      put(t, 'cert_expiry_warn_days', num(f.certWarnDays));
      if (f.allowSelfSigned) t.allow_self_signed = true;
      if (f.headers.some((h) => h.name.trim())) {
        t.headers = f.headers
          .filter((h) => h.name.trim())
          .map((h) => {
            const out: Record<string, unknown> = { name: h.name.trim(), secret: h.secret };
            // A stored secret sent back without a value keeps its value.
            if (!(h.stored && h.value === '')) out.value = h.value;
            return out;
          });
      }
      break;
    case 'tcp':
      put(t, 'host', f.host.trim());
      put(t, 'port', num(f.port));
      break;
    case 'ping':
      put(t, 'host', f.host.trim());
      break;
    case 'dns': {
      put(t, 'name', f.dnsName.trim());
      if (f.recordType !== 'A') put(t, 'record_type', f.recordType);
      put(t, 'server', f.server.trim());
      const expected = f.expected.split(/[\s,]+/).filter(Boolean);
      if (expected.length) t.expected = expected;
      break;
    }
    case 'mqtt':
      put(t, 'topic_filter', f.topicFilter.trim());
      put(t, 'grace_secs', num(f.grace));
      break;
    case 'push':
      put(t, 'grace_secs', num(f.grace));
      break;
  }
  return t;
}

/** The body of a create (or "test now"): the kind, its target and the numbers filled in. */
export function bodyOf(f: CheckForm): CheckCreate {
  const b: Record<string, unknown> = { kind: f.kind, target: targetOf(f), drives_status: f.drivesStatus, paused: f.paused };
  put(b, 'name', f.name.trim());
  put(b, 'interval_secs', num(f.interval));
  put(b, 'timeout_secs', num(f.timeout));
  put(b, 'retries', num(f.retries));
  put(b, 'retry_interval_secs', num(f.retryInterval));
  return b as unknown as CheckCreate;
}

/** "GET https://nas.lan:5001 → 200-299", "nas.lan:22", ...: what a check looks at, in one line. */
export function targetText(kind: string, target: Record<string, unknown>): string {
  const t = target;
  switch (kind) {
    case 'http':
      return `${text(t.method) || 'GET'} ${text(t.url)}${t.keyword ? ` · ${t.keyword_absent ? 'without' : 'with'} “${text(t.keyword)}”` : ''}`;
    case 'tcp':
      return `${text(t.host)}:${text(t.port)}`;
    case 'ping':
      return text(t.host);
    case 'dns':
      return `${text(t.name)} (${text(t.record_type) || 'A'})${t.server ? ` at ${text(t.server)}` : ''}`;
    case 'mqtt':
      return `a message on ${text(t.topic_filter)}`;
    case 'push':
      return 'a call to its push URL';
    default:
      return kind;
  }
}
