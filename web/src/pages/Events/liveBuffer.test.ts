import { describe, expect, it } from 'vitest';
import { clearLive, droppedWhilePaused, emptyLive, pauseLive, pushLive, resumeLive } from './liveBuffer';

const fill = (n: number, limit: number, from = 1) => {
  let s = emptyLive<number>();
  for (let i = from; i < from + n; i++) s = pushLive(s, i, limit);
  return s;
};

describe('live buffer', () => {
  it('shows newest first and stays bounded', () => {
    const s = fill(5, 3);
    expect(s.shown).toEqual([5, 4, 3]);
    expect(s.held).toEqual([]);
  });

  it('holds events while paused without moving the list', () => {
    let s = pauseLive(fill(2, 10));
    s = pushLive(s, 3, 10);
    s = pushLive(s, 4, 10);
    expect(s.shown).toEqual([2, 1]);
    expect(s.held).toEqual([4, 3]);
    expect(s.received).toBe(2);
    s = resumeLive(s, 10);
    expect(s.paused).toBe(false);
    expect(s.shown).toEqual([4, 3, 2, 1]);
    expect(s.received).toBe(0);
  });

  it('counts events beyond the buffer while paused and keeps the newest', () => {
    let s = pauseLive(fill(1, 3));
    for (let i = 2; i <= 7; i++) s = pushLive(s, i, 3);
    expect(s.received).toBe(6);
    expect(s.held).toEqual([7, 6, 5]);
    expect(droppedWhilePaused(s)).toBe(3);
    s = resumeLive(s, 3);
    expect(s.shown).toEqual([7, 6, 5]);
  });

  it('pause and resume are idempotent', () => {
    let s = pauseLive(fill(1, 3));
    s = pushLive(s, 2, 3);
    expect(pauseLive(s)).toBe(s);
    const r = resumeLive(s, 3);
    expect(resumeLive(r, 3)).toBe(r);
  });

  it('clear keeps the paused state', () => {
    let s = pauseLive(fill(2, 3));
    s = pushLive(s, 9, 3);
    s = clearLive(s);
    expect(s).toEqual({ shown: [], held: [], received: 0, paused: true });
  });
});
