// API key form logic: which scopes a user may give a key (never more than their role), and the
// create request from the form's expiry choice.
import type { components } from '../../api/schema';

export type Role = components['schemas']['RoleSchema'];
export type Scope = components['schemas']['ScopeSchema'];
export type ApiKeyCreate = components['schemas']['ApiKeyCreate'];

const LEVEL: Record<Role, number> = { viewer: 0, editor: 1, admin: 2 };
const SCOPES: Scope[] = ['read', 'write', 'admin'];

/** Scopes the user may choose, weakest first. */
export function allowedScopes(role: Role): Scope[] {
  return SCOPES.slice(0, LEVEL[role] + 1);
}

export const EXPIRY_CHOICES = [
  { value: '30', label: '30 days' },
  { value: '90', label: '90 days' },
  { value: '365', label: '1 year' },
  { value: 'never', label: 'Never' },
  { value: 'date', label: 'On a date…' },
] as const;
export type ExpiryChoice = (typeof EXPIRY_CHOICES)[number]['value'];

export interface KeyForm {
  name: string;
  scope: Scope;
  expiry: ExpiryChoice;
  /** `YYYY-MM-DD` when `expiry` is `date`. */
  date: string;
}

/** The request for `form`, or the message saying what to fix. */
export function keyRequest(form: KeyForm, now = new Date()): { body: ApiKeyCreate } | { error: string } {
  const name = form.name.trim();
  if (!name) return { error: 'Give the key a name, e.g. "backup script".' };
  if (name.length > 100) return { error: 'The name is at most 100 characters.' };
  const body: ApiKeyCreate = { name, scope: form.scope };
  switch (form.expiry) {
    case 'never':
      break;
    case 'date': {
      if (!/^\d{4}-\d{2}-\d{2}$/.test(form.date)) return { error: 'Choose the expiry date.' };
      // The end of that day, local time.
      const at = new Date(`${form.date}T23:59:59`);
      if (Number.isNaN(at.getTime())) return { error: 'Choose the expiry date.' };
      if (at <= now) return { error: 'The expiry date must be in the future.' };
      body.expires_at = at.toISOString();
      break;
    }
    default:
      body.expires_in_days = Number(form.expiry);
  }
  return { body };
}

/** "expired", "expires in 5 h", "expires in 3 days", "never expires". */
export function expiryText(expiresAt: string | null | undefined, now = new Date()): string {
  if (!expiresAt) return 'never expires';
  const ms = Date.parse(expiresAt) - now.getTime();
  if (ms <= 0) return 'expired';
  if (ms < 86_400_000) return `expires in ${Math.max(1, Math.round(ms / 3_600_000))} h`;
  const days = Math.round(ms / 86_400_000);
  return `expires in ${days} day${days === 1 ? '' : 's'}`;
}
