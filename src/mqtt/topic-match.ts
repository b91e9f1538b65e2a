/** Whether an MQTT topic filter (with `+` and `#` wildcards) matches a topic name. */
export function topicMatches(filter: string, topic: string): boolean {
  if (filter === topic) return true;
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
 * A matcher for one filter, for matching many topics against it: the filter's literal levels
 * before its first wildcard are tested with one `startsWith`, and only topics that pass are split.
 */
export function topicMatcher(filter: string): (topic: string) => boolean {
  const levels = filter.split('/');
  const firstWildcard = levels.findIndex((level) => level === '+' || level === '#');
  if (firstWildcard === -1) return (topic) => topic === filter;
  // Without a trailing '/': "a/#" also matches "a".
  const literal = levels.slice(0, firstWildcard).join('/');
  return (topic) => topic.startsWith(literal) && topicMatches(filter, topic);
}
