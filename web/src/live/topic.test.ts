import { describe, expect, it } from 'vitest';
import { filterError, topicMatches } from './topic';

describe('MQTT filters', () => {
  it('accepts valid filters and explains invalid ones', () => {
    for (const ok of ['#', 'tracker/#', 'tracker/+/x', 'a/b/c', '+']) expect(filterError(ok)).toBeNull();
    for (const bad of ['', 'tracker/#/x', 'tra+cker', 'a/b#']) expect(filterError(bad)).not.toBeNull();
  });

  it('matches like the broker', () => {
    expect(topicMatches('#', 'a/b')).toBe(true);
    expect(topicMatches('tracker/#', 'tracker')).toBe(true);
    expect(topicMatches('tracker/#', 'tracker/events/x')).toBe(true);
    expect(topicMatches('tracker/+/x', 'tracker/events/x')).toBe(true);
    expect(topicMatches('tracker/+/x', 'tracker/events/y')).toBe(false);
    expect(topicMatches('tracker/+', 'tracker/a/b')).toBe(false);
    expect(topicMatches('a/b', 'a/b')).toBe(true);
    expect(topicMatches('a/b', 'a')).toBe(false);
  });
});
