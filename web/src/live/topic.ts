// MQTT topic filters, as the server understands them (`+` one level, `#` the rest).

/** Why `filter` is not a valid MQTT filter, or `null` when it is. */
export function filterError(filter: string): string | null {
  if (filter === '') return 'A topic filter cannot be empty.';
  const levels = filter.split('/');
  for (const [i, level] of levels.entries()) {
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) {
      return "'#' must be a whole level and the last one.";
    }
    if (level.includes('+') && level !== '+') return "'+' must be a whole level.";
  }
  return null;
}

/** Does `topic` match the (valid) MQTT `filter`? */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === '#') return true;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

/**
 * Is `topic` one of the audit trail's (`tracker/events/auth/...`: sign-ins, user and key
 * changes)? Only admins receive them; feeds of the lab's events leave them out.
 */
export function isAuditTopic(topic: string): boolean {
  return topic.startsWith('tracker/events/auth/');
}
