import { describe, expect, it } from 'vitest';
import { slidExpiry } from './session';

describe('slidExpiry', () => {
  const read = Date.parse('2026-01-01T12:00:00Z');
  const end = '2026-01-02T12:00:00.000Z';
  it('keeps the end read from /auth/me when nothing was called since', () => {
    expect(slidExpiry(end, read, read + 30_000)).toBe(end);
  });
  it('moves the end by the time between the read and the latest call', () => {
    expect(slidExpiry(end, read, read + 3_600_000)).toBe('2026-01-02T13:00:00.000Z');
  });
  it('has no end without a session', () => {
    expect(slidExpiry(null, read, read + 3_600_000)).toBeNull();
  });
});
