import { describe, expect, it } from 'vitest';
import { AUDIT_PAGE, NO_AUDIT_FILTERS, auditQuery, detailFields, pageCount, parseAudit, withAudit } from './auditParams';

const sp = (s: string) => new URLSearchParams(s);
const none = NO_AUDIT_FILTERS;

describe('audit URL state', () => {
  it('reads filters and the page (1 when absent or nonsense)', () => {
    expect(parseAudit(sp('tab=audit&action=login_failed&page=3'))).toEqual({
      filters: { ...none, action: 'login_failed' },
      page: 3,
    });
    expect(parseAudit(sp('page=0')).page).toBe(1);
    expect(parseAudit(sp('page=x')).page).toBe(1);
    expect(parseAudit(sp('page=2.5')).page).toBe(1);
  });

  it('applying filters goes back to page 1 and keeps the tab', () => {
    const next = withAudit(sp('tab=audit&page=4&action=logout'), { ...none, actor_id: 'u1' });
    expect(next.toString()).toBe('tab=audit&actor_id=u1');
  });

  it('pages by offset', () => {
    expect(auditQuery({ ...none, action: 'logout' }, 3)).toEqual({
      action: 'logout',
      limit: AUDIT_PAGE,
      offset: 2 * AUDIT_PAGE,
    });
    expect(pageCount(0)).toBe(1);
    expect(pageCount(AUDIT_PAGE)).toBe(1);
    expect(pageCount(AUDIT_PAGE + 1)).toBe(2);
  });
});

describe('audit details', () => {
  it('are labelled fields, not JSON', () => {
    expect(detailFields({ new_role: 'editor', remember_me: true, attempts: 3, reason: null, scopes: ['read'] })).toEqual([
      ['New role', 'editor'],
      ['Remember me', 'yes'],
      ['Attempts', '3'],
      ['Reason', '—'],
      ['Scopes', '["read"]'],
    ]);
    expect(detailFields({})).toEqual([]);
  });
});
