// MQTT topic filters (+ and #) against topic names, by both the one-off function and the
// prepared matcher the connection keeps per wildcard subscription; they must always agree.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { topicMatcher, topicMatches } from '../../src/mqtt/topic-match.js';

const cases: [filter: string, topic: string, matches: boolean][] = [
  ['a/b/c', 'a/b/c', true],
  ['a/b/c', 'a/b/d', false],
  ['a/+/c', 'a/b/c', true],
  ['a/+/c', 'a/b/x/c', false],
  ['a/+/c', 'a/c', false],
  ['a/+', 'a/', true],
  ['a/#', 'a', true],
  ['a/#', 'a/b/c', true],
  ['a/#', 'ab/c', false],
  ['a/#', 'b/a', false],
  ['#', 'anything/at/all', true],
  ['+/b', 'a/b', true],
  ['+/b', 'a/c', false],
  ['$aws/things/dev/sketch/+/stdin', '$aws/things/dev/sketch/s1/stdin', true],
  ['$aws/things/dev/sketch/+/stdin', '$aws/things/dev/sketch/s1/stdout', false],
  ['$aws/things/dev/sketch/+/stdin', '$aws/things/dev/status/post', false],
  ['$aws/things/dev/sketch/+/stdin', '$aws/things/dev/sketch', false],
];

describe('topic filters', () => {
  for (const [filter, topic, expected] of cases) {
    it(`${filter} ${expected ? 'matches' : 'does not match'} ${topic}`, () => {
      assert.equal(topicMatches(filter, topic), expected);
      assert.equal(topicMatcher(filter)(topic), expected);
    });
  }
});
