import { describe, expect, it } from 'vitest';
import { filterErrors, logsQuery, newIds, pageRange, parseFilters, parseOpen, traceLink, withFilters } from './params';

const sp = (s: string) => new URLSearchParams(s);

describe('log viewer URL state', () => {
  it('parses filters, normalising the level and ALL', () => {
    expect(parseFilters(sp('level=warning&service=taylordash-backend&search=boom'))).toEqual({
      level: 'WARN', service: 'taylordash-backend', category: '', search: 'boom', since: '', until: '',
    });
    expect(parseFilters(sp('level=all')).level).toBe('');
    expect(parseFilters(sp('level=error')).level).toBe('ERROR');
    // Several levels, in a stable order: the warnings-and-errors view.
    expect(parseFilters(sp('level=warning,error')).level).toBe('ERROR,WARN');
    expect(parseFilters(sp('level=ERROR,ERROR')).level).toBe('ERROR');
  });

  it('reads the open record defensively', () => {
    expect(parseOpen(sp('log=42'))).toBe(42);
    expect(parseOpen(sp('log=4x'))).toBeUndefined();
  });

  it('applying filters drops empty ones, resets the page and closes the detail', () => {
    const next = withFilters(sp('page=4&log=9&level=INFO&keep=1'), {
      level: 'ERROR', service: '', category: 'API', search: '  slow ', since: '', until: '',
    });
    expect(next.get('level')).toBe('ERROR');
    expect(next.get('category')).toBe('API');
    expect(next.get('search')).toBe('slow');
    expect(next.has('service')).toBe(false);
    expect(next.has('page')).toBe(false);
    expect(next.has('log')).toBe(false);
    expect(next.get('keep')).toBe('1');
  });

  it('flags what the server would refuse', () => {
    const none = parseFilters(sp(''));
    expect(filterErrors(none)).toEqual({});
    expect(filterErrors({ ...none, level: 'LOUD' }).level).toBeTruthy();
    expect(filterErrors({ ...none, level: 'ERROR,WARN' })).toEqual({});
    expect(filterErrors({ ...none, level: 'ERROR,LOUD' }).level).toBe('Not a level: LOUD.');
    expect(filterErrors({ ...none, since: 'yesterday' }).since).toBeTruthy();
    expect(
      filterErrors({ ...none, since: '2026-01-02T00:00:00Z', until: '2026-01-01T00:00:00Z' }).until,
    ).toBeTruthy();
    expect(filterErrors({ ...none, since: '2026-01-01T00:00:00Z', until: '2026-01-01T00:00:00Z' })).toEqual({});
  });

  it('builds the API query with limit/offset for the page', () => {
    const f = { ...parseFilters(sp('')), level: 'ERROR', search: ' x ' };
    expect(logsQuery(f, 1)).toEqual({ level: 'ERROR', search: 'x', limit: 50, offset: 0 });
    expect(logsQuery(f, 3).offset).toBe(100);
    expect(logsQuery(f, 10_000_000).offset).toBe(1_000_000);
  });

  it('computes the shown range', () => {
    expect(pageRange(0, 50, 120)).toEqual({ from: 1, to: 50, pages: 3 });
    expect(pageRange(100, 20, 120)).toEqual({ from: 101, to: 120, pages: 3 });
    expect(pageRange(0, 0, 0)).toEqual({ from: 0, to: 0, pages: 1 });
  });

  it('links only event trace ids (UUIDs) to the Events history', () => {
    const id = '5F0C8A4E-1C2B-4D3E-9F00-112233445566';
    expect(traceLink(id)).toBe(`/events?tab=history&trace_id=${id.toLowerCase()}`);
    expect(traceLink('0af7651916cd43dd8448eb211c80319c')).toBeNull();
    expect(traceLink(null)).toBeNull();
    expect(traceLink('')).toBeNull();
  });

  it('marks rows not in the previous poll as new, none on the first load', () => {
    expect(newIds(undefined, [{ id: 1 }]).size).toBe(0);
    expect([...newIds([{ id: 1 }, { id: 2 }], [{ id: 4 }, { id: 3 }, { id: 2 }])]).toEqual([4, 3]);
  });
});
