// Checking an edited dead-letter message before it is replayed, as the server will: it must be
// JSON, an object (the event envelope) with `trace_id` (a UUID), `ts` (RFC 3339), `kind` and
// `idempotency_key`. What the server refuses beyond this is shown as it answers.

export const REQUIRED = ['trace_id', 'ts', 'kind', 'idempotency_key'] as const;
/** Fields an editor may fill in for the user (everything but `kind`). */
export const FILLABLE = ['trace_id', 'ts', 'idempotency_key'] as const;

export interface MessageCheck {
  /** The parsed message, when the text is JSON. */
  value?: unknown;
  /** What is wrong, in words; empty when it can be sent. */
  problems: string[];
  /** Required fields the object lacks. */
  missing: string[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const KIND = /^[A-Za-z0-9._:-]{1,100}$/;

export function checkMessage(text: string): MessageCheck {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { problems: [`Not JSON: ${e instanceof Error ? e.message : String(e)}`], missing: [] };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { value, problems: ['A message is a JSON object (the event envelope), with its fields in braces.'], missing: [] };
  }
  const o = value as Record<string, unknown>;
  const missing = REQUIRED.filter((f) => !(f in o));
  const problems: string[] = [];
  if (missing.length) problems.push(`Missing ${missing.length === 1 ? 'field' : 'fields'}: ${missing.join(', ')}.`);
  if ('trace_id' in o && !(typeof o.trace_id === 'string' && UUID.test(o.trace_id))) {
    problems.push('trace_id must be a UUID.');
  }
  if ('ts' in o && !(typeof o.ts === 'string' && RFC3339.test(o.ts))) {
    problems.push('ts must be an RFC 3339 time, e.g. 2026-12-01T08:00:00Z.');
  }
  if ('kind' in o && !(typeof o.kind === 'string' && KIND.test(o.kind))) {
    problems.push('kind must be 1-100 letters, digits or . _ - :');
  }
  if ('idempotency_key' in o && !(typeof o.idempotency_key === 'string' && o.idempotency_key.length > 0)) {
    problems.push('idempotency_key must be a non-empty string.');
  }
  if ('payload' in o && (o.payload === null || typeof o.payload !== 'object' || Array.isArray(o.payload))) {
    problems.push('payload must be a JSON object.');
  }
  return { value, problems, missing };
}

function uuid(): string {
  // crypto.randomUUID needs a secure context; a page served over plain HTTP on the LAN is not one.
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The message with the missing fillable fields added (a new trace id, now, a fresh key). */
export function fillMissing(value: Record<string, unknown>, dlqId: number, now = new Date()): Record<string, unknown> {
  const out = { ...value };
  if (!('trace_id' in out)) out.trace_id = uuid();
  if (!('ts' in out)) out.ts = now.toISOString();
  if (!('idempotency_key' in out)) out.idempotency_key = `dlq-${dlqId}-${uuid().slice(0, 8)}`;
  return out;
}
