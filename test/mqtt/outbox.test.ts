// The Outbox over a real mosquitto that is stopped and started again: a full queue drops its
// oldest messages and says so once (B/outbox/dropped, with the right counts) before delivering the
// rest in order; a queue left by a stopped outbox is delivered by the next one; a message published
// while the queue drains goes behind it.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { decodeStream } from '../../src/api.js';
import { headerBytes } from '../../src/lib/record-file.js';
import { silentLogger } from '../../src/log.js';
import { MqttConnection } from '../../src/mqtt/connection.js';
import { Outbox } from '../../src/mqtt/outbox.js';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

let broker: Broker;
let bus: MqttConnection;
let watcher: MqttClient;
let dir: { path: string; remove(): Promise<void> };
const received: { topic: string; payload: string; seq?: string }[] = [];
let counter = 0;

before(async () => {
  dir = await tempDir('ac-outbox-');
  // Persistence: the watcher's subscription outlives the broker's stop.
  broker = await startMosquitto({ persistence: true, extraConfig: ['max_queued_messages 0'] });
  watcher = await mqtt.connectAsync(broker.url, { clientId: `outbox-watcher-${process.pid}`, clean: false, reconnectPeriod: 100, protocolVersion: 5, properties: { sessionExpiryInterval: 3600 } });
  watcher.on('message', (topic, payload, packet) => received.push({ topic, payload: payload.toString(), seq: packet.properties?.userProperties?.seq as string | undefined }));
  await watcher.subscribeAsync('ob/#', { qos: 1 });
  bus = new MqttConnection({ url: broker.url, clientId: `outbox-test-${process.pid}`, backoff: { initialMs: 100, maxMs: 200 } }, silentLogger);
  bus.start();
  await waitFor(() => bus.connected, 'the bus to connect');
});
after(async () => {
  await watcher?.endAsync(true);
  await bus?.stop();
  await broker?.close();
  await dir?.remove();
});

async function brokerAway(): Promise<void> {
  await broker.stop();
  await waitFor(() => !bus.connected, 'the bus to notice');
}

function outbox(name: string, maxBytes: number): Outbox {
  return new Outbox({ bus, dir: join(dir.path, name), maxBytes, droppedTopic: `ob/${name}/dropped`, log: silentLogger, segmentBytes: 2048 });
}

const on = (topic: string) => received.filter((m) => m.topic === topic);

describe('Outbox', () => {
  it('drops the oldest when full, reports the count once, then delivers the rest in order', async () => {
    const box = outbox(`full${++counter}`, 20 * 1024);
    await box.start();
    const topic = `ob/full${counter}/data`;
    await brokerAway();
    const payloads = [...Array(1000).keys()].map((i) => `message ${String(i).padStart(4, '0')}`);
    for (const payload of payloads) await box.publish(topic, payload);
    assert.ok(box.queuedBytes <= 20 * 1024);
    await broker.start();
    await waitFor(() => on(topic).at(-1)?.payload === payloads.at(-1), 'the last message', 30_000);
    const dropped = on(`ob/full${counter}/dropped`);
    assert.equal(dropped.length, 1, 'told once');
    const { bytes, messages } = decodeStream('outbox/dropped', dropped[0]!.payload);
    const delivered = on(topic).map((m) => m.payload);
    assert.deepEqual(delivered, payloads.slice(messages), 'the newest, in order, each once');
    assert.equal(bytes, messages * (headerBytes + 3 + topic.length + payloads[0]!.length));
    // Told before the rest.
    assert.ok(received.indexOf(dropped[0]!) < received.indexOf(on(topic)[0]!));
    await box.stop();
  });

  it('delivers, after a restart, what a stopped outbox left queued, then what is published meanwhile', async () => {
    const name = `restart${++counter}`;
    const topic = `ob/${name}/data`;
    const first = outbox(name, 1 << 20);
    await first.start();
    await brokerAway();
    for (let i = 0; i < 300; i++) await first.publish(topic, `old ${i}`);
    await first.stop();
    const second = outbox(name, 1 << 20);
    await second.start();
    assert.ok(second.queuedBytes > 0, 'the queue outlived its outbox');
    await broker.start();
    await waitFor(() => bus.connected, 'the bus to reconnect');
    // Published while the queue drains: behind it.
    for (let i = 0; i < 50; i++) await second.publish(topic, `new ${i}`);
    await waitFor(() => on(topic).at(-1)?.payload === 'new 49', 'the last message', 30_000);
    const expected = [...[...Array(300).keys()].map((i) => `old ${i}`), ...[...Array(50).keys()].map((i) => `new ${i}`)];
    assert.deepEqual(on(topic).map((m) => m.payload), expected);
    const seqs = on(topic).map((m) => Number(m.seq));
    assert.ok(seqs.every((s, i) => i === 0 || s > seqs[i - 1]!), 'seq grows along the stream, across the restart');
    assert.equal(second.queuedBytes, 0);
    await second.stop();
  });
});
