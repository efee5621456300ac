import { describe, expect, it } from 'vitest';
import { act, renderHook } from '@testing-library/react';
import {
  filterQuery, isUuid, isoToLocal, localToIso, noFilters, parsePage, readFilters, timeRangeErrors, useFilterDraft,
  withPage, withParam, writeFilters,
} from './filters';

const sp = (s: string) => new URLSearchParams(s);
const KEYS = ['name', 'since', 'until'] as const;

describe('filters in the URL', () => {
  it('reads only the named fields, empty when absent', () => {
    expect(readFilters(sp('name=a%20b&other=x'), KEYS)).toEqual({ name: 'a b', since: '', until: '' });
    expect(noFilters(KEYS)).toEqual({ name: '', since: '', until: '' });
  });

  it('writes them trimmed, drops empty ones and the reset keys, keeps the rest', () => {
    const next = writeFilters(sp('tab=x&name=old&since=s&page=3&open=9'), KEYS, { name: ' new ', since: '', until: '' }, ['page', 'open']);
    expect(next.toString()).toBe('tab=x&name=new');
    expect(writeFilters(sp('page=2'), KEYS, noFilters(KEYS)).toString()).toBe('page=2');
  });

  it('turns the non-empty ones into a query', () => {
    expect(filterQuery(KEYS, { name: ' a ', since: '', until: '2026-01-01T00:00:00Z' })).toEqual({
      name: 'a',
      until: '2026-01-01T00:00:00Z',
    });
    expect(filterQuery(KEYS, noFilters(KEYS))).toEqual({});
  });

  it('sets and removes single keys; page 1 is left out', () => {
    expect(withParam(sp('tab=live'), 'event', '5').toString()).toBe('tab=live&event=5');
    expect(withParam(sp('tab=live&event=5'), 'event', null).toString()).toBe('tab=live');
    expect(withParam(sp('tab=live&event=5'), 'event', '').toString()).toBe('tab=live');
    expect(withPage(sp('tab=audit&page=2'), 1).toString()).toBe('tab=audit');
    expect(withPage(sp('tab=audit'), 2).toString()).toBe('tab=audit&page=2');
  });

  it('reads the page defensively', () => {
    for (const bad of ['', 'page=0', 'page=-2', 'page=abc', 'page=2.5', 'page=1e3']) expect(parsePage(sp(bad))).toBe(1);
    expect(parsePage(sp('page=3'))).toBe(3);
  });

  it('knows a UUID, in any case and with blanks around', () => {
    expect(isUuid(' 5F0C8A4E-1C2B-4D3E-9F00-112233445566 ')).toBe(true);
    expect(isUuid('0af7651916cd43dd8448eb211c80319c')).toBe(false);
  });
});

describe('time ranges', () => {
  it('converts between datetime-local and RFC 3339 both ways', () => {
    const local = '2026-03-04T05:06';
    const iso = localToIso(local);
    expect(iso).toMatch(/Z$/);
    expect(isoToLocal(iso)).toBe(local);
    expect(localToIso('')).toBe('');
    expect(isoToLocal('garbage')).toBe('');
  });

  it('flags nonsense and a reversed range; an empty range only where it is not allowed', () => {
    const day = (d: number) => `2026-01-0${d}T00:00:00Z`;
    expect(timeRangeErrors({ since: '', until: '' }, { allowEqual: false })).toEqual({});
    expect(timeRangeErrors({ since: 'yesterday', until: 'soon' }, { allowEqual: true })).toEqual({
      since: 'Not a valid time.',
      until: 'Not a valid time.',
    });
    expect(timeRangeErrors({ since: day(2), until: day(1) }, { allowEqual: true }).until).toMatch(/not be before/);
    expect(timeRangeErrors({ since: day(2), until: day(1) }, { allowEqual: false }).until).toMatch(/after/);
    expect(timeRangeErrors({ since: day(1), until: day(1) }, { allowEqual: true })).toEqual({});
    expect(timeRangeErrors({ since: day(1), until: day(1) }, { allowEqual: false }).until).toBeDefined();
  });

  it('edits a draft in local time and follows the URL when it changes', () => {
    const iso = localToIso('2026-03-04T05:06');
    const { result, rerender } = renderHook(({ f }) => useFilterDraft(f), {
      initialProps: { f: { name: 'a', since: iso, until: '' } },
    });
    expect(result.current.draft).toEqual({ name: 'a', since: '2026-03-04T05:06', until: '' });
    act(() => result.current.set('until')({ target: { value: '2026-03-05T00:00' } }));
    expect(result.current.asIso).toEqual({ name: 'a', since: iso, until: localToIso('2026-03-05T00:00') });
    // Back/forward or a link: the draft shows the URL's filters again.
    rerender({ f: { name: 'b', since: '', until: '' } });
    expect(result.current.draft).toEqual({ name: 'b', since: '', until: '' });
  });
});
