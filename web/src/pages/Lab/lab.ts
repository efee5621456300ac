// The dashboard's view of the lab, as pure functions: every component with checks (or impacted
// by a down dependency) across the open projects, sorted by what needs attention first, and the
// certificates that expire soonest.
import type { Graph } from '../../canvas/model';
import { asState, daysUntil, healthOf, type ComponentHealth, type Health, type ProjectChecks } from '../../checks/status';

export { certText, durationText } from '../../checks/status';

export interface LabItem {
  projectId: string;
  projectName: string;
  componentId: string;
  name: string;
  icon: string | null;
  url: string | null;
  health: ComponentHealth;
  /** Since when its worst driving check has been in its state (down/degraded). */
  since: string | null;
}

export interface CertItem {
  projectId: string;
  componentId: string;
  componentName: string;
  checkName: string;
  expiresAt: string;
  days: number;
}

export interface LabView {
  /** Down, then impacted, then degraded: what needs attention now. */
  attention: LabItem[];
  /** Up, unknown and paused: the rest. */
  rest: LabItem[];
  /** Every certificate seen, soonest expiry first. */
  certs: CertItem[];
  counts: Record<Health, number>;
  /** Components with at least one check. */
  checked: number;
}

const ORDER: Record<Health, number> = { down: 0, impacted: 1, degraded: 2, unknown: 3, paused: 4, up: 5, none: 6 };
/** Certificates expiring within this many days are listed (expired ones always). */
export const CERT_HORIZON_DAYS = 30;

export interface LabProject {
  id: string;
  name: string;
  graph?: Graph;
  checks?: ProjectChecks;
}

export function labView(projects: readonly LabProject[], now = Date.now()): LabView {
  const attention: LabItem[] = [];
  const rest: LabItem[] = [];
  const certs: CertItem[] = [];
  const counts: Record<Health, number> = { up: 0, degraded: 0, down: 0, unknown: 0, paused: 0, impacted: 0, none: 0 };
  let checked = 0;
  for (const p of projects) {
    if (!p.graph) continue;
    const names = new Map(p.graph.components.map((c) => [c.id, c.name]));
    const health = healthOf(
      p.graph.components.map((c) => c.id),
      p.graph.dependencies,
      p.checks,
      (id) => names.get(id) ?? 'component',
    );
    const summaries = new Map((p.checks?.components ?? []).map((c) => [c.component_id, c]));
    for (const c of p.graph.components) {
      const h = health.get(c.id);
      if (!h || h.health === 'none') continue;
      counts[h.health]++;
      const s = summaries.get(c.id);
      if (s) checked++;
      const worst = s?.checks
        .filter((k) => k.drives_status && asState(k.status) === h.own)
        .map((k) => k.status_since)
        .filter((v): v is string => !!v)
        .sort()[0];
      const item: LabItem = {
        projectId: p.id,
        projectName: p.name,
        componentId: c.id,
        name: c.name,
        icon: c.icon ?? null,
        url: c.url ?? null,
        health: h,
        // An impacted component's own state is not what is wrong with it.
        since: h.health === 'impacted' ? null : (worst ?? null),
      };
      if (h.health === 'down' || h.health === 'impacted' || h.health === 'degraded') attention.push(item);
      else rest.push(item);
      for (const k of s?.checks ?? []) {
        if (!k.cert_expires_at || k.status === 'paused') continue;
        const days = daysUntil(k.cert_expires_at, now);
        certs.push({ projectId: p.id, componentId: c.id, componentName: c.name, checkName: k.name, expiresAt: k.cert_expires_at, days });
      }
    }
  }
  const byUrgency = (a: LabItem, b: LabItem) =>
    ORDER[a.health.health] - ORDER[b.health.health] ||
    // Longest-standing first among equals, then by name.
    (a.since ?? '\uffff').localeCompare(b.since ?? '\uffff') ||
    a.name.localeCompare(b.name);
  attention.sort(byUrgency);
  rest.sort(byUrgency);
  certs.sort((a, b) => a.expiresAt.localeCompare(b.expiresAt));
  return { attention, rest, certs, counts, checked };
}
