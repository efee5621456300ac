// Progress, defined once (the server's `domain::component_progress` is the same rule): a
// component with tasks is as far along as the share of its tasks that are done; one without
// tasks counts the percentage typed by hand. A project averages its components; the overall
// progress averages the open projects that have components. Every screen shows it this way.

/** What the canvas knows of a component. */
export interface ProgressInput {
  progress: number;
  task_count: number;
  open_task_count: number;
}

export interface Progress {
  /** 0-100, exact. */
  value: number;
  /** Whole percent, as shown. */
  percent: number;
  /** Derived from tasks, or typed by hand (the component has no tasks). */
  source: 'tasks' | 'manual';
  done: number;
  total: number;
}

export function componentProgress(c: ProgressInput): Progress {
  const total = Math.max(0, c.task_count);
  const done = Math.min(total, Math.max(0, total - c.open_task_count));
  const value = total > 0 ? (100 * done) / total : c.progress;
  return { value, percent: percent(value), source: total > 0 ? 'tasks' : 'manual', done, total };
}

/** A 0-100 value as the whole percent shown. */
export function percent(value: number): number {
  return Math.round(Math.max(0, Math.min(100, value)));
}

/** "1 of 4 tasks done" or "set by hand (no tasks)". */
export function progressSource(p: Progress): string {
  return p.source === 'tasks' ? `${p.done} of ${p.total} tasks done` : 'set by hand (no tasks)';
}

export const PROGRESS_HELP =
  'A component’s progress is the share of its tasks that are done. A component without tasks ' +
  'counts the percentage typed by hand. A project’s progress is the average of its components’; ' +
  'overall progress is the average of the open projects that have components.';
