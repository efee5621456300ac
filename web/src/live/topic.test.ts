import { describe, expect, it } from 'vitest';
import { filterError, isAuditTopic, topicMatches } from './topic';

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

describe('the audit trail', () => {
  it('is the tracker/events/auth family only', () => {
    expect(isAuditTopic('tracker/events/auth/login_success')).toBe(true);
    expect(isAuditTopic('tracker/events/projects/created')).toBe(false);
    expect(isAuditTopic('tracker/events/authors/x')).toBe(false);
    expect(isAuditTopic('lab/tracker/events/auth/x')).toBe(false);
  });
});
