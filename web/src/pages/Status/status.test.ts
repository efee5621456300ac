import { describe, expect, it } from 'vitest';
import { barPaths, dayTone, daysSummary, headline, percent, refreshMs } from './status';

const day = (uptime: number | null, outage = false) => ({ day: '2026-12-01', uptime, outage });
const comp = (status: string) => ({ name: status, status, uptime_24h: null, uptime_30d: null, days: [] });

describe('status page helpers', () => {
  it('says one sentence for the project', () => {
    expect(headline({ components: [comp('up'), comp('up')] })).toEqual({ text: 'All systems operational', tone: 'ok' });
    expect(headline({ components: [comp('up'), comp('down')] }).text).toBe('1 of 2 services down');
    expect(headline({ components: [comp('down'), comp('paused')] }).text).toBe('Major outage');
    expect(headline({ components: [comp('degraded'), comp('up')] }).tone).toBe('warn');
    expect(headline({ components: [] }).tone).toBe('none');
  });

  it('reads the refresh period from the address, within bounds', () => {
    expect(refreshMs(null)).toBe(30_000);
    expect(refreshMs('abc')).toBe(30_000);
    expect(refreshMs('1')).toBe(5_000);
    expect(refreshMs('60')).toBe(60_000);
  });

  it('never rounds a bad day up to 100%', () => {
    expect(percent(1)).toBe('100%');
    expect(percent(0.99999)).toBe('99.99%');
    expect(percent(0.5)).toBe('50.00%');
    expect(percent(null)).toBe('—');
  });

  it('draws one path per tone', () => {
    const days = [day(null), day(1), day(0.9, true), day(0.1, true)];
    expect(days.map(dayTone)).toEqual(['none', 'ok', 'warn', 'bad']);
    const p = barPaths(days, 100, 10, 0);
    expect(p.none).toBe('M0.00 0h25.00v10h-25.00z');
    expect(p.ok.startsWith('M25.00 0')).toBe(true);
    expect(p.bad.startsWith('M75.00 0')).toBe(true);
    expect(daysSummary(days)).toBe('2 days with outages in the last 4 days');
    expect(daysSummary([day(null)])).toBe('No data in the last 1 day');
  });
});
