import { describe, expect, it } from 'vitest';
import { checkMessage, fillMissing } from './dlqEdit';

const good = {
  trace_id: '0b6e4f4e-8f4a-4c39-9a53-2b0c51f8a0d1',
  ts: '2026-12-01T08:00:00Z',
  kind: 'lab.humidity',
  idempotency_key: 'rh-1',
  payload: { rh: 61 },
};

describe('an edited dead-letter message', () => {
  it('passes when it is a complete envelope', () => {
    expect(checkMessage(JSON.stringify(good))).toEqual({ value: good, problems: [], missing: [] });
  });

  it('says where the JSON is broken', () => {
    const c = checkMessage('{"kind": "x" "payload": {}}');
    expect(c.problems).toHaveLength(1);
    expect(c.problems[0]).toMatch(/^Not JSON: /);
  });

  it('wants an object with the required fields, each well-formed', () => {
    expect(checkMessage('[1]').problems[0]).toMatch(/JSON object/);
    const c = checkMessage(JSON.stringify({ kind: 'a b', payload: 3 }));
    expect(c.missing).toEqual(['trace_id', 'ts', 'idempotency_key']);
    expect(c.problems).toEqual([
      'Missing fields: trace_id, ts, idempotency_key.',
      'kind must be 1-100 letters, digits or . _ - :',
      'payload must be a JSON object.',
    ]);
    expect(checkMessage(JSON.stringify({ ...good, trace_id: 'nope', ts: 'yesterday' })).problems).toEqual([
      'trace_id must be a UUID.',
      'ts must be an RFC 3339 time, e.g. 2026-12-01T08:00:00Z.',
    ]);
  });

  it('fills in what can be made up, never the kind', () => {
    const filled = fillMissing({ kind: 'lab.humidity' }, 7, new Date('2026-12-01T08:00:00Z'));
    expect(filled.ts).toBe('2026-12-01T08:00:00.000Z');
    expect(String(filled.idempotency_key)).toMatch(/^dlq-7-[0-9a-f]{8}$/);
    expect(checkMessage(JSON.stringify(filled)).problems).toEqual([]);
    expect(checkMessage(JSON.stringify(fillMissing({}, 1))).missing).toEqual(['kind']);
  });
});
