import { describe, expect, it } from 'vitest';
import { safeNext } from './Login';

describe('safeNext', () => {
  it('follows same-site paths', () => {
    expect(safeNext('/projects?status=active')).toBe('/projects?status=active');
  });
  it('refuses other sites, protocol-relative URLs and the login page itself', () => {
    expect(safeNext('https://evil.example')).toBe('/');
    expect(safeNext('//evil.example/x')).toBe('/');
    expect(safeNext('/\\evil.example/x')).toBe('/');
    expect(safeNext('/login?next=/x')).toBe('/');
    expect(safeNext(null)).toBe('/');
  });
});
