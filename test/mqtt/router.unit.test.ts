// The router over the in-memory broker: decoding, validation, the family's handler, the answer,
// and the one mapping from errors to ERROR: texts.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConflictError, FailedError, UnavailableError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { MemoryBroker } from '../../src/mqtt/memory-bus.js';
import { CommandRouter } from '../../src/mqtt/router.js';
import { waitFor } from '../helpers/wait.js';

function setUp(maxPayloadBytes?: number) {
  const broker = new MemoryBroker();
  const bus = broker.client();
  const peer = broker.client();
  const logs: string[] = [];
  const log = createLogger({ level: 'debug', write: (line) => void logs.push(line) });
  const router = new CommandRouter({ bus, base: 'dev', log, maxPayloadBytes });
  const seen: { topic: string; payload: string; correlation?: string }[] = [];
  const qosOfAnswers: (0 | 1 | 2 | undefined)[] = [];
  void peer.subscribe('#', (topic, payload, meta) => {
    if (topic.endsWith('/post')) return;
    seen.push({ topic, payload: payload.toString(), correlation: meta.properties?.correlationData?.toString() });
    qosOfAnswers.push(meta.qos);
  });
  return { router, peer, logs, seen, qosOfAnswers };
}

describe('command router', () => {
  it('answers at the QoS of the request: 0 stays 0, 1 is answered at 1', async () => {
    const { router, peer, seen, qosOfAnswers } = setUp();
    router.serve({ family: 'status', handle: async () => ({ sketches: {} }) });
    await router.start();
    await peer.publish('dev/status/post', '', { qos: 0, responseTopic: 'me/replies' });
    await waitFor(() => seen.length === 2, 'both answers of the QoS 0 request');
    await peer.publish('dev/status/post', '', { qos: 1, responseTopic: 'me/replies' });
    await waitFor(() => seen.length === 4, 'both answers of the QoS 1 request');
    assert.deepEqual(qosOfAnswers, [0, 0, 1, 1]);
  });

  it('subscribes every command of the API map, served or not', async () => {
    const { router, peer, seen } = setUp();
    await router.start();
    await peer.publish('dev/containers/ps/post', '{}');
    await waitFor(() => seen.length === 1, 'an answer');
    assert.deepEqual(seen[0], { topic: 'dev/containers/ps', payload: 'ERROR: containers unavailable: not started\n', correlation: undefined });
  });

  it('answers INFO: with the handler body, also on the response topic with its correlation data', async () => {
    const { router, peer, seen } = setUp();
    router.serve({ family: 'status', handle: async () => ({ sketches: {} }) });
    await router.start();
    await peer.publish('dev/status/post', '', { responseTopic: 'me/replies', correlationData: Buffer.from('c1') });
    await waitFor(() => seen.length === 2, 'both answers');
    assert.deepEqual(new Set(seen.map((m) => `${m.topic} ${m.correlation ?? ''} ${m.payload}`)), new Set(['dev/status  INFO: {"sketches":{}}\n', 'me/replies c1 INFO: {"sketches":{}}\n']));
  });

  it('never publishes to a wildcard response topic', async () => {
    const { router, peer, seen, logs } = setUp();
    router.serve({ family: 'status', handle: async () => ({ sketches: {} }) });
    await router.start();
    await peer.publish('dev/status/post', '{}', { responseTopic: 'evil/#' });
    await waitFor(() => seen.length === 1, 'the answer');
    assert.equal(seen[0]?.topic, 'dev/status');
    assert.ok(logs.some((l) => l.includes('"evil/#" is not a topic one can publish to')));
  });

  it('turns each kind of error into one ERROR: text, and logs a bug with its stack', async () => {
    const { router, logs } = setUp(64);
    const failures: Record<string, Error> = {
      'containers/ps': new UnavailableError('no container engine at /nowhere.sock'),
      'containers/images': new ConflictError('name in use'),
      'containers/rename': new FailedError('engine said no'),
      'containers/action': new TypeError('boom'),
    };
    router.serve({
      family: 'containers',
      handle: async (command) => {
        throw failures[command];
      },
    });
    assert.equal(await router.handle('containers/ps', Buffer.from('{}')), 'ERROR: containers unavailable: no container engine at /nowhere.sock\n');
    assert.equal(await router.handle('containers/images', Buffer.from('{}')), 'ERROR: name in use\n');
    assert.equal(await router.handle('containers/rename', Buffer.from('{"id":"a","name":"b"}')), 'ERROR: engine said no\n');
    assert.equal(await router.handle('containers/action', Buffer.from('{"action":"run"}')), 'ERROR: boom\n');
    // The stack is on the same line, its line breaks escaped: one line per event.
    assert.ok(logs.some((l) => / ERROR .*containers\/action failed unexpectedly: TypeError: boom\\n\s+at .*\n$/.test(l)));
    assert.ok(logs.some((l) => / INFO .*containers\/images: name in use/.test(l)));
    assert.equal(await router.handle('containers/ps', Buffer.alloc(65, 32)), 'ERROR: payload of 65 bytes exceeds the limit of 64 bytes\n');
    assert.equal(await router.handle('containers/action', Buffer.from('{"action":"fly"}')), 'ERROR: field "action": unknown value "fly", expected one of run, start, stop, remove\n');
  });

  it('answers a family that failed with its reason until it serves again', async () => {
    const { router } = setUp();
    router.unavailable('stats', 'cannot read /proc/meminfo');
    assert.equal(await router.handle('stats', Buffer.from('')), 'ERROR: stats unavailable: cannot read /proc/meminfo\n');
    router.serve({ family: 'stats', handle: async () => 'fine' });
    assert.equal(await router.handle('stats', Buffer.from('')), 'INFO: fine\n');
  });

  it('bounds size per command and nesting before the payload is parsed', async () => {
    const { router } = setUp();
    router.serve({ family: 'sketches', handle: async () => 'ran' });
    router.serve({ family: 'apt', handle: async () => ({ output: 'ran' }) });
    router.serve({ family: 'containers', handle: async () => [] });
    const deep = Buffer.from(`${'['.repeat(10_000)}${']'.repeat(10_000)}`);
    assert.equal(await router.handle('sketch', deep), 'ERROR: the request is nested deeper than 32 levels\n');
    // Brackets inside strings are text, not nesting.
    const quoted = JSON.stringify({ id: 'blink', action: 'STOP', note: `${'['.repeat(1000)}\\"${'{'.repeat(1000)}` });
    assert.equal(await router.handle('sketch', Buffer.from(quoted)), 'INFO: ran\n');
    // A sketch command never needs 64 KiB; 500 long package names need more, and may have it.
    assert.equal(await router.handle('sketch', Buffer.alloc(70 * 1024, 32)), 'ERROR: payload of 71680 bytes exceeds the limit of 65536 bytes\n');
    const names = Array.from({ length: 500 }, (_, i) => `pkg${i}-${'a'.repeat(240)}`);
    assert.equal(await router.handle('apt/install', Buffer.from(JSON.stringify({ packages: names }))), 'INFO: {"output":"ran"}\n');
    // A Docker configuration deeper than any real one is refused by its field.
    let config: Record<string, unknown> = { Leaf: true };
    for (let i = 0; i < 12; i++) config = { Nested: config };
    assert.equal(
      await router.handle('containers/action', Buffer.from(JSON.stringify({ action: 'run', image: 'busybox', container_config: config }))),
      'ERROR: field "container_config": nested deeper than 10 levels\n',
    );
  });
});

describe('command router under load', () => {
  it('answers busy beyond what a family may have in progress, and status stays answered', async () => {
    const { router } = setUp();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    router.serve({ family: 'apt', handle: async () => gate.then(() => ({ output: 'done' })) });
    router.serve({ family: 'status', handle: async () => ({ sketches: {} }) });
    const pending = Array.from({ length: 20 }, () => router.handle('apt/update', Buffer.from('{}')));
    const early = await Promise.race([Promise.all(pending.slice(16)), new Promise((r) => setTimeout(() => r('waited'), 1000))]);
    assert.deepEqual(early, Array(4).fill('ERROR: busy, retry: 16 apt requests are in progress\n'));
    assert.equal(await router.handle('status', Buffer.from('')), 'INFO: {"sketches":{}}\n');
    release();
    assert.deepEqual(await Promise.all(pending.slice(0, 16)), Array(16).fill('INFO: {"output":"done"}\n'));
    // Once they are done, the family takes requests again.
    assert.equal(await router.handle('apt/update', Buffer.from('{}')), 'INFO: {"output":"done"}\n');
  });
});
