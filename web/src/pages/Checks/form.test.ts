import { describe, expect, it } from 'vitest';
import type { Check } from '../../checks/api';
import { bodyOf, emptyForm, formOf, targetOf, targetText } from './form';

const stored = (kind: string, target: Record<string, unknown>, extra: Partial<Check> = {}): Check =>
  ({
    id: 'k', component_id: 'c', project_id: 'p', name: 'n', kind, target, interval_secs: 30, timeout_secs: 5, retries: 1,
    retry_interval_secs: 10, drives_status: true, paused: false, status: 'up', failures: 0, version: 2,
    created_at: 't', updated_at: 't', ...extra,
  }) as Check;

describe('check form', () => {
  it('sends only what was filled in, so the server applies its defaults', () => {
    const f = { ...emptyForm('http'), url: ' https://nas.lan:5001 ', interval: '30', retries: '0' };
    expect(bodyOf(f)).toEqual({
      kind: 'http', target: { url: 'https://nas.lan:5001' }, drives_status: true, paused: false, interval_secs: 30, retries: 0,
    });
  });

  it('keeps each kind to its own fields', () => {
    const f = { ...emptyForm('tcp'), url: 'https://x', host: 'nas.lan', port: '22' };
    expect(targetOf(f)).toEqual({ host: 'nas.lan', port: 22 });
    expect(targetOf({ ...f, kind: 'ping' })).toEqual({ host: 'nas.lan' });
    expect(targetOf({ ...emptyForm('dns'), dnsName: 'nas.lan', recordType: 'AAAA', expected: '10.0.0.1, 10.0.0.2' })).toEqual({
      name: 'nas.lan', record_type: 'AAAA', expected: ['10.0.0.1', '10.0.0.2'],
    });
    expect(targetOf({ ...emptyForm('push'), grace: '30' })).toEqual({ grace_secs: 30 });
    expect(targetOf({ ...emptyForm('mqtt'), topicFilter: 'tracker/metrics/#' })).toEqual({ topic_filter: 'tracker/metrics/#' });
  });

  it('passes text the server must refuse as it is (its 422 says why)', () => {
    expect(bodyOf({ ...emptyForm('tcp'), host: 'h', port: 'twenty' }).target).toEqual({ host: 'h', port: 'twenty' });
    expect((bodyOf({ ...emptyForm('http'), interval: '5' }) as { interval_secs?: number }).interval_secs).toBe(5);
  });

  it('reads a stored check back, and keeps a stored secret header unless a new value is typed', () => {
    const c = stored('http', {
      url: 'https://nas.lan', keyword: 'Synology', keyword_absent: true, follow_redirects: false,
      headers: [{ name: 'Authorization', secret: true }, { name: 'X-Lab', value: 'v', secret: false }],
    });
    const f = formOf(c);
    expect(f).toMatchObject({ kind: 'http', interval: '30', retries: '1', keywordAbsent: true, followRedirects: false });
    expect(f.headers[0]).toEqual({ name: 'Authorization', value: '', secret: true, stored: true });
    expect(targetOf(f).headers).toEqual([{ name: 'Authorization', secret: true }, { name: 'X-Lab', value: 'v', secret: false }]);
    f.headers[0]!.value = 'Bearer new';
    expect((targetOf(f).headers as unknown[])[0]).toEqual({ name: 'Authorization', secret: true, value: 'Bearer new' });
  });

  it('says what a check looks at in one line', () => {
    expect(targetText('http', { url: 'https://a', keyword: 'ok' })).toBe('GET https://a · with “ok”');
    expect(targetText('tcp', { host: 'nas', port: 22 })).toBe('nas:22');
    expect(targetText('dns', { name: 'nas.lan', server: '10.0.0.1' })).toBe('nas.lan (A) at 10.0.0.1');
  });
});
