// The presence stream over the in-memory broker: online once per session with its start, offline
// on stop, nothing from a bus that is gone; and the in-memory bus delivers a client's will when it
// is dropped, not when it is closed.

import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { describe, it } from 'node:test';
import { decodeStream, topics, type Presence as PresenceMessage } from '../../src/api.js';
import { createLogger } from '../../src/log.js';
import { MemoryBroker } from '../../src/mqtt/memory-bus.js';
import { Presence, presenceWill } from '../../src/streams/presence.js';
import { WritableMount } from '../../src/system/ro-fs.js';
import { waitFor } from '../helpers/wait.js';

function setUp() {
  const broker = new MemoryBroker();
  const watcher = broker.client();
  const seen: { message: PresenceMessage; retain: boolean | undefined }[] = [];
  const bus = broker.client({ will: presenceWill('dev') });
  const logs: string[] = [];
  const log = createLogger({ level: 'debug', write: (line) => void logs.push(line) });
  const presence = new Presence({ bus, base: 'dev', log, writable: new WritableMount({ enabled: false }) }, { version: '9.9.9' });
  return { broker, watcher, seen, bus, presence, logs };
}

describe('presence (fast tier)', () => {
  it('online once for the session, with its start; offline on stop', async () => {
    const { watcher, seen, bus, presence } = setUp();
    await watcher.subscribe(topics.presence('dev'), (_topic, payload) => void seen.push({ message: decodeStream('presence', payload.toString()), retain: undefined }));
    await presence.start();
    // A 'connect' for a session already announced says nothing more.
    bus.emit('connect');
    await waitFor(() => seen.length >= 1, 'online');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(
      seen.map((m) => m.message),
      [{ state: 'online', version: '9.9.9', host: hostname(), since: bus.sessionStart?.toISOString() }],
    );
    await presence.stop();
    await waitFor(() => seen.length === 2, 'offline');
    assert.deepEqual(seen[1]?.message, { state: 'offline' });
  });

  it('a bus that is gone: stop says nothing (the will does), and does not fail', async () => {
    const { watcher, seen, bus, presence } = setUp();
    await presence.start();
    await watcher.subscribe(topics.presence('dev'), (_topic, payload) => void seen.push({ message: decodeStream('presence', payload.toString()), retain: undefined }));
    bus.drop();
    await presence.stop();
    await waitFor(() => seen.length === 1, 'the will');
    assert.deepEqual(seen[0]?.message, { state: 'offline' });
    assert.equal(bus.sessionStart, undefined);
  });

  it('the in-memory bus: the will on drop, retained as given; nothing on close', async () => {
    const broker = new MemoryBroker();
    const watcher = broker.client();
    const got: { payload: string; qos?: number }[] = [];
    await watcher.subscribe('dev/presence', (_topic, payload, meta) => void got.push({ payload: payload.toString(), qos: meta.qos }));
    broker.client({ will: presenceWill('dev') }).close();
    broker.client({ will: presenceWill('dev') }).drop();
    await waitFor(() => got.length === 1, 'the will');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(got, [{ payload: '{"state":"offline"}', qos: 1 }]);
  });
});
