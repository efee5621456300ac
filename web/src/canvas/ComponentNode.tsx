// One component on the canvas: name, type, status colour, progress bar and where the progress
// comes from (its tasks, or typed by hand when it has none: app/progress.ts). Its connection
// handles are for editors: hidden on a read-only canvas (edges still attach to them).
// Memoized: it re-renders only when its own component object changes.
import { memo } from 'react';
import { Handle, Position, type NodeProps } from '@xyflow/react';
import { componentProgress, progressSource } from '../app/progress';
import type { CanvasNode } from './flow';

export const STATUS_LABEL: Record<string, string> = {
  pending: 'Pending',
  in_progress: 'In progress',
  blocked: 'Blocked',
  completed: 'Completed',
};

function ComponentNodeView({ data, selected, isConnectable }: NodeProps<CanvasNode>) {
  const c = data.node;
  const p = componentProgress(c);
  return (
    <div
      className={`cv-node cv-status-${c.status}${selected ? ' cv-selected' : ''}${isConnectable ? '' : ' cv-readonly'}`}
      data-testid="cv-node"
      data-id={c.id}
    >
      <Handle type="target" position={Position.Left} isConnectable={isConnectable} />
      <div className="cv-node-head">
        <span className="cv-node-name" title={c.name}>{c.name}</span>
        <span className="cv-node-status">{STATUS_LABEL[c.status] ?? c.status}</span>
      </div>
      <div className="cv-node-type">{c.type || 'component'}</div>
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
