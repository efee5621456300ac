// Pure helpers of the public status page: wording, percentages and the daily bars as SVG paths.
import type { components } from '../../api/schema';

export type PublicStatus = components['schemas']['PublicStatusResponse'];
export type PublicComponent = components['schemas']['PublicComponentResponse'];
export type PublicDay = components['schemas']['PublicDay'];

export type Tone = 'ok' | 'warn' | 'bad' | 'none';

/** How often the page asks again (the server reuses an answer for 10 s). */
export const REFRESH_MS = 30_000;

/** The `?refresh=<seconds>` of the page's address: at least 5 s, at most an hour. */
export function refreshMs(param: string | null): number {
  const s = Number(param);
  if (!param || !Number.isFinite(s)) return REFRESH_MS;
  return Math.round(Math.min(3600, Math.max(5, s)) * 1000);
}

export const STATE: Record<string, { label: string; tone: Tone }> = {
  up: { label: 'Operational', tone: 'ok' },
  degraded: { label: 'Degraded', tone: 'warn' },
  down: { label: 'Down', tone: 'bad' },
  unknown: { label: 'No data yet', tone: 'none' },
  paused: { label: 'Paused', tone: 'none' },
};

export function stateOf(status: string): { label: string; tone: Tone } {
  return STATE[status] ?? { label: status, tone: 'none' };
}

/** The headline: one sentence for the whole project. */
export function headline(page: Pick<PublicStatus, 'components'>): { text: string; tone: Tone } {
  const shown = page.components.filter((c) => c.status !== 'paused');
  const down = shown.filter((c) => c.status === 'down').length;
  const degraded = shown.filter((c) => c.status === 'degraded').length;
  if (page.components.length === 0) return { text: 'Nothing is monitored here yet', tone: 'none' };
  if (down > 0 && down === shown.length) return { text: 'Major outage', tone: 'bad' };
  if (down > 0) return { text: `${down} of ${shown.length} ${shown.length === 1 ? 'service' : 'services'} down`, tone: 'bad' };
  if (degraded > 0) return { text: 'Degraded performance', tone: 'warn' };
  if (shown.some((c) => c.status === 'unknown')) return { text: 'Waiting for first results', tone: 'none' };
  return { text: 'All systems operational', tone: 'ok' };
}

/** `0.99953` → `99.95%`; no runs → `—`. Never rounds a bad day up to 100%. */
export function percent(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined) return '—';
  if (ratio >= 1) return '100%';
  const floored = Math.floor(ratio * 10000) / 100;
  return `${floored.toFixed(2)}%`;
}

/** A day's colour: green when all up, amber when partly down, red when mostly down, grey without data. */
export function dayTone(d: PublicDay): Tone {
  if (d.uptime === null || d.uptime === undefined) return 'none';
  if (!d.outage) return 'ok';
  return d.uptime >= 0.5 ? 'warn' : 'bad';
}

/** The daily bars as one path per tone (a few elements per component, however many days). */
export function barPaths(days: readonly PublicDay[], width = 300, height = 32, gap = 2): Record<Tone, string> {
  const out: Record<Tone, string> = { ok: '', warn: '', bad: '', none: '' };
  const n = days.length;
  if (n === 0) return out;
  const w = (width - gap * (n - 1)) / n;
  days.forEach((d, i) => {
    const x = i * (w + gap);
    out[dayTone(d)] += `M${x.toFixed(2)} 0h${w.toFixed(2)}v${height}h${(-w).toFixed(2)}z`;
  });
  return out;
}

const daysText = (n: number) => `${n} ${n === 1 ? 'day' : 'days'}`;

/** "3 days with outages in the last 30 days" for screen readers and tooltips. */
export function daysSummary(days: readonly PublicDay[]): string {
  const outages = days.filter((d) => d.outage).length;
  const measured = days.filter((d) => d.uptime !== null && d.uptime !== undefined).length;
  const span = `in the last ${daysText(days.length)}`;
  if (measured === 0) return `No data ${span}`;
  if (outages === 0) return `No outages ${span}`;
  return `${daysText(outages)} with outages ${span}`;
}
