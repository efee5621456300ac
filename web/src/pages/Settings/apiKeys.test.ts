import { describe, expect, it } from 'vitest';
import { allowedScopes, expiryText, keyRequest } from './apiKeys';

describe('API key form', () => {
  it('offers no scope above the role', () => {
    expect(allowedScopes('viewer')).toEqual(['read']);
    expect(allowedScopes('editor')).toEqual(['read', 'write']);
    expect(allowedScopes('admin')).toEqual(['read', 'write', 'admin']);
  });

  it('builds the request from the expiry choice', () => {
    const now = new Date('2026-01-10T12:00:00Z');
    expect(keyRequest({ name: ' backup ', scope: 'read', expiry: '90', date: '' }, now)).toEqual({
      body: { name: 'backup', scope: 'read', expires_in_days: 90 },
    });
    expect(keyRequest({ name: 'b', scope: 'write', expiry: 'never', date: '' }, now)).toEqual({
      body: { name: 'b', scope: 'write' },
    });
    const dated = keyRequest({ name: 'b', scope: 'read', expiry: 'date', date: '2026-02-01' }, now);
    expect('body' in dated && dated.body.expires_at).toBe(new Date('2026-02-01T23:59:59').toISOString());
  });

  it('says what to fix', () => {
    const now = new Date('2026-01-10T12:00:00Z');
    expect(keyRequest({ name: '  ', scope: 'read', expiry: '30', date: '' }, now)).toHaveProperty('error');
    expect(keyRequest({ name: 'x'.repeat(101), scope: 'read', expiry: '30', date: '' }, now)).toHaveProperty('error');
    expect(keyRequest({ name: 'a', scope: 'read', expiry: 'date', date: '' }, now)).toHaveProperty('error');
    expect(keyRequest({ name: 'a', scope: 'read', expiry: 'date', date: '2025-01-01' }, now)).toEqual({
      error: 'The expiry date must be in the future.',
    });
  });

  it('describes expiry', () => {
    const now = new Date('2026-01-10T12:00:00Z');
    expect(expiryText(null, now)).toBe('never expires');
    expect(expiryText('2026-01-09T00:00:00Z', now)).toBe('expired');
    expect(expiryText('2026-01-10T20:00:00Z', now)).toBe('expires in 8 h');
    expect(expiryText('2026-01-10T12:10:00Z', now)).toBe('expires in 1 h');
    expect(expiryText('2026-01-11T13:00:00Z', now)).toBe('expires in 1 day');
    // Just created with 30 days: not "29".
    expect(expiryText('2026-02-09T11:59:59Z', now)).toBe('expires in 30 days');
  });
});
