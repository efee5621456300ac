import { describe, expect, it } from 'vitest';
import { componentProgress, percent, progressSource } from './progress';

describe('progress', () => {
  it('comes from tasks when a component has any, whatever was typed', () => {
    const p = componentProgress({ progress: 90, task_count: 4, open_task_count: 3 });
    expect(p).toMatchObject({ value: 25, percent: 25, source: 'tasks', done: 1, total: 4 });
    expect(progressSource(p)).toBe('1 of 4 tasks done');
  });

  it('is typed by hand without tasks', () => {
    const p = componentProgress({ progress: 40, task_count: 0, open_task_count: 0 });
    expect(p).toMatchObject({ value: 40, percent: 40, source: 'manual' });
    expect(progressSource(p)).toBe('set by hand (no tasks)');
  });

  it('rounds as shown, the same as the server defines it', () => {
    // The server's domain::component_progress(0, 3, 1) is 33.33…; shown as 33 %.
    expect(componentProgress({ progress: 0, task_count: 3, open_task_count: 2 }).percent).toBe(33);
    expect(componentProgress({ progress: 0, task_count: 3, open_task_count: 0 }).percent).toBe(100);
    expect(percent(32.5)).toBe(33);
    expect(percent(140)).toBe(100);
  });
});
