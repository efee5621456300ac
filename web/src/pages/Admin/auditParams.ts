// The audit log's filters and page live in the URL (`/admin?tab=audit&action=login_failed`).

export const AUDIT_ACTIONS = [
  'login_success',
  'login_failed',
  'login_locked',
  'logout',
  'session_revoked',
  'user_created',
  'user_updated',
  'user_deleted',
  'role_changed',
  'password_changed',
  'api_key_created',
  'api_key_revoked',
  'setup_token_used',
] as const;

export interface AuditFilters {
  action: string;
  actor_id: string;
  target_id: string;
  /** RFC 3339. */
  since: string;
  until: string;
}

export const AUDIT_KEYS = ['action', 'actor_id', 'target_id', 'since', 'until'] as const;
export const AUDIT_PAGE = 50;

export function parseAudit(sp: URLSearchParams): { filters: AuditFilters; page: number } {
  const page = Number(sp.get('page'));
  return {
    filters: {
      action: sp.get('action') ?? '',
      actor_id: sp.get('actor_id') ?? '',
      target_id: sp.get('target_id') ?? '',
      since: sp.get('since') ?? '',
      until: sp.get('until') ?? '',
    },
    page: Number.isInteger(page) && page > 0 ? page : 1,
  };
}

/** Filters applied: empty ones removed, back to page 1, other keys (tab) kept. */
export function withAudit(sp: URLSearchParams, f: AuditFilters): URLSearchParams {
  const next = new URLSearchParams(sp);
  for (const k of AUDIT_KEYS) {
    const v = f[k].trim();
    if (v) next.set(k, v);
    else next.delete(k);
  }
  next.delete('page');
  return next;
}

export function withPage(sp: URLSearchParams, page: number): URLSearchParams {
  const next = new URLSearchParams(sp);
  if (page <= 1) next.delete('page');
  else next.set('page', String(page));
  return next;
}

export function auditQuery(f: AuditFilters, page: number) {
  const q: Partial<Record<(typeof AUDIT_KEYS)[number], string>> & { limit: number; offset: number } = {
    limit: AUDIT_PAGE,
    offset: (page - 1) * AUDIT_PAGE,
  };
  for (const k of AUDIT_KEYS) {
    const v = f[k].trim();
    if (v) q[k] = v;
  }
  return q;
}

/** Number of pages for `total` entries (at least 1). */
export function pageCount(total: number): number {
  return Math.max(1, Math.ceil(total / AUDIT_PAGE));
}
