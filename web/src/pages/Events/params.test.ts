import { describe, expect, it } from 'vitest';
import {
  historyErrors,
  historyQuery,
  parseCursor,
  parseHistory,
  parseLiveFilter,
  parseTab,
  withHistory,
} from './params';

const sp = (s: string) => new URLSearchParams(s);
const none = { topic: '', kind: '', trace_id: '', since: '', until: '' };

describe('events URL state', () => {
  it('reads the tab, defaulting to live', () => {
    expect(parseTab(sp('tab=dlq'))).toBe('dlq');
    expect(parseTab(sp('tab=history'))).toBe('history');
    expect(parseTab(sp('tab=nope'))).toBe('live');
    expect(parseTab(sp(''))).toBe('live');
  });

  it('reads the live filter, everything by default', () => {
    expect(parseLiveFilter(sp(''))).toBe('#');
    expect(parseLiveFilter(sp('filter=tracker%2Fevents%2F%2B%2Fcreated'))).toBe('tracker/events/+/created');
  });

  it('reads history filters and the cursor', () => {
    const f = parseHistory(sp('tab=history&topic=tracker/events/%23&kind=project.created'));
    expect(f).toEqual({ ...none, topic: 'tracker/events/#', kind: 'project.created' });
    expect(parseCursor(sp('cursor=42'))).toBe(42);
    expect(parseCursor(sp('cursor=-1'))).toBeUndefined();
    expect(parseCursor(sp('cursor=abc'))).toBeUndefined();
  });

  it('applies filters: drops empty ones, resets the page, keeps the tab', () => {
    const next = withHistory(sp('tab=history&kind=old&cursor=9&filter=a/%23'), {
      ...none,
      topic: ' tracker/# ',
    });
    expect(next.get('tab')).toBe('history');
    expect(next.get('filter')).toBe('a/#');
    expect(next.get('topic')).toBe('tracker/#');
    expect(next.has('kind')).toBe(false);
    expect(next.has('cursor')).toBe(false);
  });

  it('finds what the server would refuse', () => {
    expect(historyErrors(none)).toEqual({});
    expect(historyErrors({ ...none, topic: 'a/#/b' }).topic).toMatch(/last/);
    expect(historyErrors({ ...none, topic: 'a+/b' }).topic).toMatch(/whole level/);
    expect(historyErrors({ ...none, trace_id: 'xyz' }).trace_id).toBeDefined();
    expect(historyErrors({ ...none, trace_id: '0b6e4f4e-8f4a-4c39-9a53-2b0c51f8a0d1' })).toEqual({});
    expect(historyErrors({ ...none, since: 'yesterday' }).since).toBeDefined();
    expect(
      historyErrors({ ...none, since: '2026-01-02T00:00:00Z', until: '2026-01-01T00:00:00Z' }).until,
    ).toBeDefined();
    // An empty range is refused here (the logs accept since = until).
    expect(historyErrors({ ...none, since: '2026-01-01T00:00:00Z', until: '2026-01-01T00:00:00Z' }).until).toMatch(/after/);
  });

  it('builds the API query from non-empty filters', () => {
    expect(historyQuery({ ...none, kind: 'a' }, undefined, 50)).toEqual({ kind: 'a', limit: 50 });
    expect(historyQuery(none, 17, 50)).toEqual({ limit: 50, cursor: 17 });
  });
});
