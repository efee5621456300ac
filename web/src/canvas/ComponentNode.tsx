// One component on the canvas: its icon, name, a link that opens the service (new tab), type and
// host; what its checks say (a status dot with the state in words — never colour alone —, the
// latency, the day's uptime hour by hour, and "impacted" with the down dependency named when
// something it depends on is down); then the progress bar and where the progress comes from
// (its tasks, or typed by hand: app/progress.ts). Its connection handles are for editors: hidden
// on a read-only canvas (edges still attach to them).
// Memoized: it re-renders only when its own component or health object changes.
import { memo } from 'react';
import { Handle, Position, type NodeProps } from '@xyflow/react';
import { componentProgress, progressSource } from '../app/progress';
import { ComponentIcon } from '../checks/icons';
import { UptimeBar } from '../checks/UptimeBar';
import { formatLatency, formatUptime, HEALTH_LABEL, type ComponentHealth } from '../checks/status';
import type { CanvasNode } from './flow';

export const STATUS_LABEL: Record<string, string> = {
  pending: 'Pending',
  in_progress: 'In progress',
  blocked: 'Blocked',
  completed: 'Completed',
};

/** "Down · 12 ms · 99.5% (24 h)": the health row in words, for its title and screen readers. */
export function healthSentence(name: string, h: ComponentHealth): string {
  const parts = [`${name}: ${HEALTH_LABEL[h.health].toLowerCase()}`];
  if (h.health === 'impacted') parts.push(`depends on ${h.causeNames.join(', ')}, which ${h.causeNames.length === 1 ? 'is' : 'are'} down`);
  const latency = formatLatency(h.latencyMs);
  if (latency && h.health !== 'down') parts.push(`latency ${latency}`);
  if (h.uptime24h != null) parts.push(`${formatUptime(h.uptime24h)} up in the last 24 hours`);
  if (h.error && (h.own === 'down' || h.own === 'degraded')) parts.push(h.error);
  return parts.join('; ');
}

function Health({ name, h }: { name: string; h: ComponentHealth }) {
  const latency = formatLatency(h.latencyMs);
  return (
    <div className={`cv-health cv-health-${h.health}`} data-testid="cv-health" data-health={h.health} title={healthSentence(name, h)}>
      <div className="cv-health-row">
        <span className="cv-dot" aria-hidden="true" />
        <span className="cv-health-label" data-testid="cv-health-label">
          {HEALTH_LABEL[h.health]}
        </span>
        {latency && h.health !== 'down' && h.own !== 'paused' && (
          <span className="cv-latency" data-testid="cv-latency">
            {latency}
          </span>
        )}
        {h.uptime24h != null && <span className="cv-uptime">{formatUptime(h.uptime24h)}</span>}
      </div>
      {h.health === 'impacted' && (
        <div className="cv-impact" data-testid="cv-impact">
          needs {h.causeNames.join(', ')}
        </div>
      )}
      {h.health === 'down' && h.error && <div className="cv-impact cv-error">{h.error}</div>}
      {h.hours && <UptimeBar hours={h.hours} label={`${name}, uptime hour by hour over the last 24 hours`} />}
      <span className="cv-sr">{healthSentence(name, h)}</span>
    </div>
  );
}

function ComponentNodeView({ data, selected, isConnectable }: NodeProps<CanvasNode>) {
  const c = data.node;
  const h = data.health;
  const p = componentProgress(c);
  const sub = [c.type || 'component', c.host].filter(Boolean).join(' · ');
  return (
    <div
      className={`cv-node cv-status-${c.status}${h ? ` cv-node-${h.health}` : ''}${selected ? ' cv-selected' : ''}${isConnectable ? '' : ' cv-readonly'}`}
      data-testid="cv-node"
      data-id={c.id}
      data-health={h?.health ?? 'none'}
    >
      <Handle type="target" position={Position.Left} isConnectable={isConnectable} />
      <div className="cv-node-head">
        <ComponentIcon icon={c.icon} size={18} className="cv-node-icon" />
        <span className="cv-node-name" title={c.name}>{c.name}</span>
        {c.url && (
          <a
            className="cv-node-link nodrag nopan"
            href={c.url}
            target="_blank"
            rel="noopener noreferrer"
            aria-label={`Open ${c.name} in a new tab`}
            title={c.url}
            data-testid="cv-node-link"
            // Opening the service is not selecting the node.
            onClick={(e) => e.stopPropagation()}
          >
            ↗
          </a>
        )}
        <span className="cv-node-status">{STATUS_LABEL[c.status] ?? c.status}</span>
      </div>
      <div className="cv-node-type" title={sub}>{sub}</div>
      {h && h.health !== 'none' && <Health name={c.name} h={h} />}
      <div
        className="cv-progress"
        role="progressbar"
        aria-label={`${c.name} progress`}
        aria-valuenow={p.percent}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuetext={`${p.percent}%, ${progressSource(p)}`}
      >
        <div className="cv-progress-bar" style={{ width: `${p.value}%` }} />
      </div>
      <div className="cv-node-foot" title={`Progress ${p.percent}%: ${progressSource(p)}`}>
        <span className={`cv-tasks cv-source-${p.source}`} data-testid="cv-task-count">
          {p.source === 'tasks' ? `${p.done}/${p.total} tasks done` : 'No tasks · set by hand'}
        </span>
        <span data-testid="cv-progress">{p.percent}%</span>
      </div>
      <Handle type="source" position={Position.Right} isConnectable={isConnectable} />
    </div>
  );
}

export const ComponentNode = memo(ComponentNodeView);
