// The devices' topics as the console sees them: the base-topic pattern (`$aws/things/{id}`) turned
// into wildcard filters over every device, and a device id read back out of a topic.

import { baseTopic } from '../../src/api/topics.js';

export { baseTopic };

/** The filter that matches `<B>/<suffix>` for every device: `{id}` becomes `+`. */
export function fleetFilter(pattern: string, suffix: string): string {
  return `${pattern.replace(/\/+$/, '').replaceAll('{id}', '+')}/${suffix}`;
}

/** Reads device ids out of `<B>/<suffix>` topics of one pattern. */
export function deviceIdReader(pattern: string, suffix: string): (topic: string) => string | undefined {
  const parts = pattern.replace(/\/+$/, '').split('{id}').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const expression = new RegExp(`^${parts.join('([^/+#]+)')}/${suffix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
  return (topic) => {
    const match = expression.exec(topic);
    if (!match) return undefined;
    // A pattern may name {id} more than once; every place must hold the same id.
    const ids = match.slice(1);
    return ids.every((id) => id === ids[0]) ? ids[0] : undefined;
  };
}

/** MQTT topic filter matching (`+` one level, `#` the rest). */
export function topicMatches(filter: string, topic: string): boolean {
  if (filter === topic) return true;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return i < t.length || t.length === i;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}
