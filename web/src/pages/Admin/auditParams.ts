// The audit log's filters and page live in the URL (`/admin?tab=audit&action=login_failed`).
import { filterQuery, noFilters, parsePage, readFilters, writeFilters, type Filters } from '../../app/ui/filters';

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
  'identity_linked',
  'totp_enabled',
  'totp_disabled',
  'second_factor_failed',
  'recovery_codes_renewed',
  'sign_in_settings_changed',
] as const;

export const AUDIT_KEYS = ['action', 'actor_id', 'target_id', 'since', 'until'] as const;
export const AUDIT_PAGE = 50;

/** Action, who did it, whom it was about, and the time range `since`/`until` (RFC 3339). */
export type AuditFilters = Filters<(typeof AUDIT_KEYS)[number]>;
export const NO_AUDIT_FILTERS: AuditFilters = noFilters(AUDIT_KEYS);

export function parseAudit(sp: URLSearchParams): { filters: AuditFilters; page: number } {
  return { filters: readFilters(sp, AUDIT_KEYS), page: parsePage(sp) };
}

/** Filters applied: empty ones removed, back to page 1, other keys (tab) kept. */
export function withAudit(sp: URLSearchParams, f: AuditFilters): URLSearchParams {
  return writeFilters(sp, AUDIT_KEYS, f, ['page']);
}

export function auditQuery(f: AuditFilters, page: number) {
  return { limit: AUDIT_PAGE, offset: (page - 1) * AUDIT_PAGE, ...filterQuery(AUDIT_KEYS, f) };
}

/** Number of pages for `total` entries (at least 1). */
export function pageCount(total: number): number {
  return Math.max(1, Math.ceil(total / AUDIT_PAGE));
}

/**
 * An audit entry's details as labelled fields, in their order: `new_role: "editor"` → `["New role",
 * "editor"]`. Text as it is, numbers and yes/no spelled out, nested values as compact JSON.
 */
export function detailFields(details: Record<string, unknown>): [string, string][] {
  return Object.entries(details).map(([key, value]) => {
    const label = key.replaceAll('_', ' ').replace(/^./, (c) => c.toUpperCase());
    const text =
      value === null || value === undefined
        ? '—'
        : typeof value === 'string'
          ? value
          : typeof value === 'boolean'
            ? value
              ? 'yes'
              : 'no'
            : typeof value === 'number'
              ? String(value)
              : JSON.stringify(value);
    return [label, text];
  });
}
