import { describe, expect, it, vi } from 'vitest';
import { LayoutSaver } from './layoutSaver';

type Body = { component_id: string; x: number; y: number }[];

describe('LayoutSaver', () => {
  it('debounces and sends one batch with the last position of each component', async () => {
    vi.useFakeTimers();
    const sent: Body[] = [];
    const saver = new LayoutSaver({ send: async (b: Body) => void sent.push(b), delayMs: 300 });
    saver.queue('a', { x: 1.4, y: 2 }, { x: 0, y: 0 });
    vi.advanceTimersByTime(200);
    saver.queue('b', { x: 5, y: 5 }, null);
    saver.queue('a', { x: 10, y: 20 }, { x: 1, y: 2 });
    vi.advanceTimersByTime(299);
    expect(sent).toEqual([]);
    vi.advanceTimersByTime(1);
    await vi.runAllTimersAsync();
    expect(sent).toEqual([[{ component_id: 'a', x: 10, y: 20 }, { component_id: 'b', x: 5, y: 5 }]]);
    expect(saver.size).toBe(0);
    vi.useRealTimers();
  });

  it('on failure gives back where each component was before its first unsaved move', async () => {
    let fail = true;
    const errors: Map<string, unknown>[] = [];
    const saver = new LayoutSaver({
      send: () => (fail ? Promise.reject(new Error('down')) : Promise.resolve('ok')),
      onError: (_e, prev) => errors.push(prev),
    });
    saver.queue('a', { x: 1, y: 1 }, { x: 0, y: 0 });
    saver.queue('a', { x: 2, y: 2 }, { x: 1, y: 1 });
    saver.queue('b', { x: 3, y: 3 }, null);
    await saver.flush();
    expect(errors).toEqual([new Map<string, unknown>([['a', { x: 0, y: 0 }], ['b', null]])]);
    fail = false;
    saver.queue('a', { x: 4, y: 4 }, { x: 0, y: 0 });
    await saver.flush();
    expect(errors).toHaveLength(1);
    saver.dispose();
  });

  it('sends moves made during a request in a following request, one at a time', async () => {
    const sent: Body[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    let release!: () => void;
    const saver = new LayoutSaver({
      send: async (b: Body) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        sent.push(b);
        if (sent.length === 1) await new Promise<void>((r) => (release = r));
        inFlight--;
      },
    });
    saver.queue('a', { x: 1, y: 1 }, null);
    const first = saver.flush();
    await Promise.resolve();
    saver.queue('b', { x: 2, y: 2 }, null);
    const second = saver.flush();
    release();
    await Promise.all([first, second]);
    expect(sent.map((b) => b.map((p) => p.component_id))).toEqual([['a'], ['b']]);
    expect(maxInFlight).toBe(1);
    saver.dispose();
  });

  it('a failed batch does not roll back a component moved again since', async () => {
    const errors: Map<string, unknown>[] = [];
    let reject!: (e: unknown) => void;
    const saver = new LayoutSaver({
      send: () => new Promise((_, rej) => (reject = rej)),
      onError: (_e, prev) => errors.push(prev),
    });
    saver.queue('a', { x: 1, y: 1 }, { x: 0, y: 0 });
    saver.queue('b', { x: 1, y: 1 }, { x: 0, y: 0 });
    const f = saver.flush();
    await Promise.resolve();
    saver.queue('a', { x: 9, y: 9 }, { x: 1, y: 1 });
    reject(new Error('x'));
    await Promise.resolve();
    await Promise.resolve();
    expect(errors[0]).toEqual(new Map([['b', { x: 0, y: 0 }]]));
    void f.catch(() => undefined);
  });
});
