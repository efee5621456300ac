// The canvas side panel's "Checks" section: each check of the component with its state in words,
// latency and last error (from the project's live summary, which the canvas already holds), and
// the way to the component's page (history, and for editors the check editor).
import { Link } from 'react-router';
import { useQuery } from '@tanstack/react-query';
import { useSession } from '../app/session';
import { checksApi, projectChecksKey } from './api';
import { asState, formatLatency, HEALTH_LABEL } from './status';
import './checks.css';

export function PanelChecks({ projectId, componentId, componentName }: { projectId: string; componentId: string; componentName: string }) {
  const { canEdit } = useSession();
  // The same cache entry the canvas keeps live (useProjectChecks).
  const summary = useQuery({ queryKey: projectChecksKey(projectId), queryFn: () => checksApi.project(projectId) }).data;
  const mine = summary?.components.find((c) => c.component_id === componentId);
  const to = `/projects/${projectId}/components/${componentId}`;
  return (
    <section className="cv-checks" aria-labelledby="cv-checks-title">
      <h3 id="cv-checks-title">Checks</h3>
      {!mine || mine.checks.length === 0 ? (
        <p className="empty">No checks: nothing tells whether {componentName} is up.</p>
      ) : (
        <ul className="ck-mini-list">
          {mine.checks.map((k) => {
            const s = asState(k.status);
            const latency = formatLatency(k.last_latency_ms);
            return (
              <li key={k.id} className={`ck-${s}`}>
                <span className="ck-state">
                  <span className="ck-dot" aria-hidden="true" />
                  {HEALTH_LABEL[s]}
                </span>
                <span className="ck-mini-name">{k.name}</span>
                {latency && s !== 'down' && <span className="muted">{latency}</span>}
                {k.last_error && s !== 'up' && <span className="ck-mini-error">{k.last_error}</span>}
              </li>
            );
          })}
        </ul>
      )}
      <Link to={to} data-testid="panel-checks-link">
        {canEdit ? 'Checks, history and editor →' : 'Checks and history →'}
      </Link>
    </section>
  );
}
