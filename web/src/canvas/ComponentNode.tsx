// One component on the canvas: name, type, status colour, progress bar and task count.
// Memoized: it re-renders only when its own component object changes.
import { memo } from 'react';
import { Handle, Position, type NodeProps } from '@xyflow/react';
import type { CanvasNode } from './flow';

export const STATUS_LABEL: Record<string, string> = {
  pending: 'Pending',
  in_progress: 'In progress',
  blocked: 'Blocked',
  completed: 'Completed',
};

function ComponentNodeView({ data, selected, isConnectable }: NodeProps<CanvasNode>) {
  const c = data.node;
  const done = c.task_count - c.open_task_count;
  return (
    <div className={`cv-node cv-status-${c.status}${selected ? ' cv-selected' : ''}`} data-testid="cv-node" data-id={c.id}>
      <Handle type="target" position={Position.Left} isConnectable={isConnectable} />
      <div className="cv-node-head">
        <span className="cv-node-name" title={c.name}>{c.name}</span>
        <span className="cv-node-status">{STATUS_LABEL[c.status] ?? c.status}</span>
      </div>
      <div className="cv-node-type">{c.type || 'component'}</div>
      <div className="cv-progress" role="progressbar" aria-label={`${c.name} progress`} aria-valuenow={c.progress} aria-valuemin={0} aria-valuemax={100}>
        <div className="cv-progress-bar" style={{ width: `${c.progress}%` }} />
      </div>
      <div className="cv-node-foot">
        <span className="cv-tasks" data-testid="cv-task-count">
          {c.task_count === 0 ? 'No tasks' : `${done}/${c.task_count} tasks done`}
        </span>
        <span>{c.progress}%</span>
      </div>
      <Handle type="source" position={Position.Right} isConnectable={isConnectable} />
    </div>
  );
}

export const ComponentNode = memo(ComponentNodeView);
