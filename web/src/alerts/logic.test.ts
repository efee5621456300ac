import { describe, expect, it } from 'vitest';
import { channelBody, channelTarget, parseDuration, ruleBody, ruleText, sortAlerts, unhandled, type Alert, type Channel, type Rule } from './logic';

const alert = (id: string, state: string, updated_at: string, extra: Partial<Alert> = {}): Alert =>
  ({
    id, state, updated_at, name: id, severity: 'warning', source: 'rule', summary: '', labels: {}, active_since: updated_at,
    silenced_now: false, version: 1, ...extra,
  }) as Alert;

describe('alert order', () => {
  it('puts firing first, then pending, then resolved, newest change first within each', () => {
    const list = [
      alert('old-resolved', 'resolved', '2026-12-07T10:00:00Z'),
      alert('pending', 'pending', '2026-12-07T12:00:00Z'),
      alert('old-firing', 'firing', '2026-12-07T09:00:00Z'),
      alert('new-resolved', 'resolved', '2026-12-07T11:00:00Z'),
      alert('new-firing', 'firing', '2026-12-07T11:30:00Z'),
    ];
    expect(sortAlerts(list).map((a) => a.id)).toEqual(['new-firing', 'old-firing', 'pending', 'new-resolved', 'old-resolved']);
    expect(list[0]?.id).toBe('old-resolved'); // the input is left as it was
  });

  it('counts the firing alerts nobody acknowledged or silenced', () => {
    const by = { by: 'ann', at: '2026-12-07T10:00:00Z' };
    const list = [
      alert('a', 'firing', '2026-12-07T10:00:00Z'),
      alert('b', 'firing', '2026-12-07T10:00:00Z', { acknowledged: { ...by, note: null } }),
      alert('c', 'firing', '2026-12-07T10:00:00Z', { silenced_now: true }),
      alert('d', 'pending', '2026-12-07T10:00:00Z'),
    ];
    expect(unhandled(list)).toBe(1);
  });
});

describe('silence duration', () => {
  it('reads minutes, hours and days; a bare number is minutes', () => {
    expect(parseDuration('30m')).toBe(1800);
    expect(parseDuration(' 2h ')).toBe(7200);
    expect(parseDuration('1D')).toBe(86_400);
    expect(parseDuration('90')).toBe(5400);
    expect(parseDuration('1.5h')).toBe(5400);
  });

  it('refuses what is not a length, zero, and more than 90 days', () => {
    for (const bad of ['', 'soon', '-1h', '0m', '91d', '2w']) expect(parseDuration(bad)).toBeNull();
    expect(parseDuration('90d')).toBe(90 * 86_400);
  });
});

describe('channel form', () => {
  it('splits config from secrets and leaves out what is empty', () => {
    const body = channelBody(' Mail ', 'email', {
      host: 'smtp.lan', port: '587', security: 'starttls', username: '', password: 'pw', from: 'td@lan', to: 'a@lan, b@lan ,',
    });
    expect(body).toEqual({
      name: 'Mail', kind: 'email', enabled: true,
      config: { host: 'smtp.lan', port: 587, security: 'starttls', from: 'td@lan', to: ['a@lan', 'b@lan'] },
      secrets: { password: 'pw' },
    });
  });

  it('sends no signing key for a webhook left to generate one, and never a webhook URL as config for Discord', () => {
    expect(channelBody('hook', 'webhook', { url: 'https://r.lan/h', signing_key: ' ' })).toMatchObject({ config: { url: 'https://r.lan/h' }, secrets: {} });
    expect(channelBody('d', 'discord', { url: 'https://discord.example/api/webhooks/1/x' })).toMatchObject({
      config: {},
      secrets: { url: 'https://discord.example/api/webhooks/1/x' },
    });
  });

  it('describes where a channel sends without its secrets', () => {
    const c = (kind: string, config: Record<string, unknown>, secrets: string[] = []) => ({ kind, config, secrets }) as unknown as Channel;
    expect(channelTarget(c('email', { host: 'smtp.lan', port: 587, to: ['a@lan'] }, ['password']))).toBe('a@lan via smtp.lan:587');
    expect(channelTarget(c('ntfy', { server: 'https://ntfy.lan', topic: 'lab' }))).toBe('https://ntfy.lan/lab');
    expect(channelTarget(c('slack', {}, ['url']))).toBe('webhook URL set');
  });
});

describe('rule form', () => {
  it('turns minutes into seconds and typed numbers into numbers', () => {
    expect(
      ruleBody({
        name: ' Disk ', kind: 'metric_threshold', params: { query: 'disk_used', op: '>', threshold: '90' }, forMinutes: '5',
        severity: 'critical', channels: ['c1'], repeatMinutes: '', notifyOnResolve: false,
      }),
    ).toEqual({
      name: 'Disk', kind: 'metric_threshold', params: { query: 'disk_used', op: '>', threshold: 90 }, for_secs: 300,
      severity: 'critical', channels: ['c1'], repeat_secs: null, notify_on_resolve: false,
    });
  });

  it('leaves out parameters of another kind and empty ones', () => {
    const body = ruleBody({
      name: 'x', kind: 'dead_letters', params: { threshold: '', window_secs: '600', query: 'stale' }, forMinutes: '',
      severity: 'warning', channels: [], repeatMinutes: '60', notifyOnResolve: true,
    });
    expect(body.params).toEqual({ window_secs: 600 });
    expect(body.for_secs).toBe(0);
    expect(body.repeat_secs).toBe(3600);
  });

  it('says what a rule watches in words', () => {
    const r = { kind: 'check_down', params: { project_id: 'p' }, for_secs: 300 } as unknown as Rule;
    expect(ruleText(r)).toBe('A check is down · for 5 min');
    expect(ruleText({ kind: 'cert_expiring', params: { days: 14 }, for_secs: 0 } as unknown as Rule)).toBe('A certificate expires soon · days 14');
  });
});
