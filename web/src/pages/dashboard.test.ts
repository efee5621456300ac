import { describe as suite, expect, it } from 'vitest';
import { describe, healthStaleSince, mergeFeed, serviceName, statusText, tone } from './Dashboard';
import type { LiveEvent } from '../live/stream';

const ev = (id: number, topic = 'lab/x', payload: Record<string, unknown> = {}): LiveEvent =>
  ({ id, topic, kind: 'k', payload, created_at: '', ts: '', idempotency_key: String(id), source: 'http', trace_id: '' }) as unknown as LiveEvent;

suite('mergeFeed', () => {
  it('puts live events first, drops duplicates and keeps the newest max', () => {
    const out = mergeFeed([ev(5), ev(4)], [ev(4), ev(3), ev(2)], 3);
    expect(out.map((e) => e.id)).toEqual([5, 4, 3]);
  });
});

suite('describe', () => {
  it('names the domain object and action', () => {
    expect(describe(ev(1, 'tracker/events/projects/updated', { name: 'Roof' }))).toBe('Project “Roof” updated');
    expect(describe(ev(1, 'tracker/events/tasks/created', { title: 'Buy nails' }))).toBe('Task “Buy nails” created');
  });
  it('falls back to the kind for other topics', () => {
    expect(describe(ev(1, 'lab/sensor'))).toBe('k');
  });
});

suite('stack health tiles', () => {
  it('names every service and shows optional ones that are not set up as neutral', () => {
    expect(serviceName('mqtt')).toBe('Event bus');
    expect(serviceName('victoria_metrics')).toBe('VictoriaMetrics');
    expect(serviceName('new_thing')).toBe('New thing');
    expect(statusText('not_configured')).toBe('Not configured');
    expect(tone('not_configured')).toBe('off');
    expect(tone('unhealthy')).toBe('bad');
    expect(tone('healthy')).toBe('ok');
  });
});

suite('healthStaleSince', () => {
  const fresh = { data: {}, isRefetchError: false, errorUpdatedAt: 0 };
  it('is current while connected and the last check answered', () => {
    expect(healthStaleSince(null, fresh)).toBeNull();
  });
  it('is stale since the live connection was lost', () => {
    expect(healthStaleSince(1_000, fresh)).toBe(1_000);
    expect(healthStaleSince(1_000, { ...fresh, isRefetchError: true, errorUpdatedAt: 5_000 })).toBe(1_000);
  });
  it('is stale since a refetch failed, even with the stream up', () => {
    expect(healthStaleSince(null, { ...fresh, isRefetchError: true, errorUpdatedAt: 5_000 })).toBe(5_000);
  });
  it('has nothing to call stale before the first answer', () => {
    expect(healthStaleSince(1_000, { data: undefined, isRefetchError: false, errorUpdatedAt: 0 })).toBeNull();
  });
});
