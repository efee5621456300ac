// Saves node positions after drags: debounced, coalesced per component and sent in batches
// through `PUT /projects/{id}/layout` (all or nothing on the server). One request at a time; moves
// made while a request runs go in the next one. When a batch fails, the caller gets the positions
// the components had before the batch's moves, to put them back.
import type { Point } from './model';

/** The server's cap on positions per layout request. */
export const MAX_BATCH = 2000;

export interface SaverOptions<R> {
  send: (positions: { component_id: string; x: number; y: number }[]) => Promise<R>;
  delayMs?: number;
  onSaved?: (result: R) => void;
  /** `previous`: for each component of the failed batch, where it was before (null: unplaced). */
  onError?: (error: unknown, previous: Map<string, Point | null>) => void;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (t: unknown) => void;
}

export class LayoutSaver<R = unknown> {
  private pending = new Map<string, Point>();
  /** Position before the first unsaved move of each pending component. */
  private before = new Map<string, Point | null>();
  private timer: unknown = null;
  private running: Promise<void> | null = null;
  private readonly opts: Required<Omit<SaverOptions<R>, 'onSaved' | 'onError'>> & SaverOptions<R>;

  constructor(options: SaverOptions<R>) {
    this.opts = {
      delayMs: 400,
      setTimer: (fn, ms) => setTimeout(fn, ms),
      clearTimer: (t) => clearTimeout(t as ReturnType<typeof setTimeout>),
      ...options,
    };
  }

  /** Number of moves not yet sent. */
  get size(): number {
    return this.pending.size;
  }

  /** Records that `id` moved from `from` to `to`; the save follows after a quiet delay. */
  queue(id: string, to: Point, from: Point | null): void {
    if (!this.before.has(id)) this.before.set(id, from);
    this.pending.set(id, { x: Math.round(to.x), y: Math.round(to.y) });
    this.schedule();
  }

  /** Sends everything pending now; resolves when all of it was answered. */
  async flush(): Promise<void> {
    if (this.timer !== null) {
      this.opts.clearTimer(this.timer);
      this.timer = null;
    }
    while (this.running) await this.running;
    if (this.pending.size === 0) return;
    const batch = [...this.pending].slice(0, MAX_BATCH);
    const previous = new Map<string, Point | null>();
    for (const [id] of batch) {
      this.pending.delete(id);
      previous.set(id, this.before.get(id) ?? null);
      this.before.delete(id);
    }
    const body = batch.map(([component_id, p]) => ({ component_id, x: p.x, y: p.y }));
    this.running = this.opts
      .send(body)
      .then(
        (result) => this.opts.onSaved?.(result),
        (error: unknown) => {
          // A later move of the same component wins over the rollback.
          for (const id of this.pending.keys()) previous.delete(id);
          this.opts.onError?.(error, previous);
        },
      )
      .finally(() => {
        this.running = null;
      });
    await this.running;
    if (this.pending.size > 0) await this.flush();
  }

  /** Drops the timer; pending moves are sent at once (leaving the page must not lose them). */
  dispose(): void {
    if (this.pending.size > 0) void this.flush();
    else if (this.timer !== null) this.opts.clearTimer(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    if (this.timer !== null) this.opts.clearTimer(this.timer);
    this.timer = this.opts.setTimer(() => {
      this.timer = null;
      void this.flush();
    }, this.opts.delayMs);
  }
}
