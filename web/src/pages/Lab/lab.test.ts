import { describe, expect, it } from 'vitest';
import type { Graph, GraphNode } from '../../canvas/model';
import { componentState, type CheckSummary, type ProjectChecks } from '../../checks/status';
import { certText, durationText, labView } from './lab';

const node = (id: string): GraphNode =>
  ({ id, project_id: 'p', name: id.toUpperCase(), status: 'pending', progress: 0, metadata: {}, version: 1, created_at: 't', updated_at: 't', task_count: 0, open_task_count: 0 }) as GraphNode;
const check = (id: string, status: string, extra: Partial<CheckSummary> = {}) =>
  ({ id, name: id, kind: 'http', status, drives_status: true, ...extra }) as CheckSummary;
const summary = (...cs: [string, CheckSummary[]][]): ProjectChecks =>
  ({ components: cs.map(([component_id, checks]) => ({ component_id, checks, status: componentState(checks), hours_24h: [], uptime_24h: null })) }) as ProjectChecks;

describe('the lab view', () => {
  const now = Date.parse('2026-12-07T08:00:00Z');
  const graph: Graph = {
    project_id: 'p',
    components: ['db', 'api', 'web', 'nas', 'todo'].map(node),
    dependencies: [
      { component_id: 'api', depends_on_id: 'db', created_at: 't' },
      { component_id: 'web', depends_on_id: 'api', created_at: 't' },
    ],
  };
  const checks = summary(
    ['db', [check('d', 'down', { status_since: '2026-12-07T07:00:00Z', last_error: 'refused' })]],
    ['api', [check('a', 'up', { cert_expires_at: '2026-12-10T00:00:00Z' })]],
    ['web', [check('w', 'degraded', { status_since: '2026-12-07T07:30:00Z' })]],
    ['nas', [check('n', 'up', { cert_expires_at: '2027-06-01T00:00:00Z' })]],
  );

  it('puts down first, then impacted, then degraded; the rest after; components without checks out', () => {
    const v = labView([{ id: 'p', name: 'Lab', graph, checks }], now);
    expect(v.attention.map((i) => [i.componentId, i.health.health])).toEqual([
      ['db', 'down'],
      ['api', 'impacted'],
      ['web', 'impacted'],
    ]);
    expect(v.attention[0]!.since).toBe('2026-12-07T07:00:00Z');
    expect(v.rest.map((i) => i.componentId)).toEqual(['nas']);
    expect(v.counts).toMatchObject({ down: 1, impacted: 2, up: 1 });
    expect(v.checked).toBe(4);
  });

  it('lists certificates soonest first, with days left', () => {
    const v = labView([{ id: 'p', name: 'Lab', graph, checks }], now);
    expect(v.certs.map((c) => [c.componentId, c.days])).toEqual([
      ['api', 2],
      ['nas', 175],
    ]);
    expect(certText(2)).toBe('expires in 2 days');
    expect(certText(0)).toBe('expires today');
    expect(certText(-1)).toBe('expired 1 day ago');
  });

  it('skips a project whose graph has not arrived', () => {
    expect(labView([{ id: 'p', name: 'Lab' }]).checked).toBe(0);
  });

  it('says how long', () => {
    expect(durationText(42_000)).toBe('42 s');
    expect(durationText(3 * 60_000)).toBe('3 min');
    expect(durationText(125 * 60_000)).toBe('2 h 5 min');
    expect(durationText(72 * 3_600_000)).toBe('3 days');
  });
});
