// The console's reading of the base-topic pattern: wildcard filters over every device, and the
// device id read back out of a topic.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deviceIdReader, fleetFilter, topicMatches } from '../../console/src/topics.js';

describe('console topics', () => {
  it('turns the pattern into a filter over every device', () => {
    assert.equal(fleetFilter('$aws/things/{id}', 'presence'), '$aws/things/+/presence');
    assert.equal(fleetFilter('fleet/{id}/agent/', 'heartbeat'), 'fleet/+/agent/heartbeat');
  });

  it('reads the device id out of a topic of the pattern, and nothing else', () => {
    const id = deviceIdReader('$aws/things/{id}', 'status');
    assert.equal(id('$aws/things/local:1234/status'), 'local:1234');
    assert.equal(id('$aws/things/a/b/status'), undefined);
    assert.equal(id('$aws/things/a/statusx'), undefined);
    assert.equal(id('other/things/a/status'), undefined);
    const middle = deviceIdReader('fleet/{id}/agent', 'heartbeat');
    assert.equal(middle('fleet/pi.kitchen/agent/heartbeat'), 'pi.kitchen');
    // Characters that mean something in a regular expression are taken literally.
    assert.equal(deviceIdReader('a.b/{id}', 'status')('axb/d1/status'), undefined);
    const twice = deviceIdReader('{id}/x/{id}', 'status');
    assert.equal(twice('d1/x/d1/status'), 'd1');
    assert.equal(twice('d1/x/d2/status'), undefined);
  });

  it('matches MQTT filters as a broker does', () => {
    assert.ok(topicMatches('$aws/things/+/status', '$aws/things/d1/status'));
    assert.ok(!topicMatches('$aws/things/+/status', '$aws/things/d1/x/status'));
    assert.ok(topicMatches('console/abc/#', 'console/abc/sketch'));
    assert.ok(topicMatches('console/abc/#', 'console/abc'));
    assert.ok(!topicMatches('console/abc/#', 'console/abd/sketch'));
    assert.ok(topicMatches('a/b', 'a/b'));
    assert.ok(!topicMatches('a/+', 'a'));
  });
});
