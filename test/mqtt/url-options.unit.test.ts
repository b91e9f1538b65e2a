// The broker URL becomes MQTT.js options through the WHATWG parser, with what MQTT.js's own
// (deprecated) url.parse() reading gave: host without IPv6 brackets, port as a number, path with
// its query, credentials decoded.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/errors.js';
import { urlOptions } from '../../src/mqtt/url-options.js';

describe('urlOptions', () => {
  it('reads scheme, host and port', () => {
    assert.deepEqual(urlOptions('mqtts://broker.example:8883'), { protocol: 'mqtts', hostname: 'broker.example', host: 'broker.example', port: 8883, path: '/' });
  });

  it('leaves the port to MQTT.js when the URL has none', () => {
    assert.equal(urlOptions('mqtt://broker.example').port, undefined);
  });

  it('writes an IPv6 address without its brackets', () => {
    assert.equal(urlOptions('mqtt://[::1]:1884').hostname, '::1');
  });

  it('keeps the path and query of a WebSocket URL', () => {
    assert.equal(urlOptions('wss://broker.example/mqtt?x-amz=1').path, '/mqtt?x-amz=1');
  });

  it('decodes credentials written in the URL', () => {
    const options = urlOptions('mqtt://dev%20ice:p%40ss%3Aword@127.0.0.1:1883');
    assert.equal(options.username, 'dev ice');
    assert.equal(options.password, 'p@ss:word');
  });

  it('refuses what is not a URL with a clear error', () => {
    assert.throws(() => urlOptions('mqtt://'), ConfigError);
  });
});
