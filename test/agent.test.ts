// The agent's core against a real mosquitto: answers, errors, streams, reconnection.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import mqtt from 'mqtt';
import { commandFamilies, commandNames, decodeBody, parseReply, topics } from '../src/api.js';
import { startMosquitto, type Broker } from './helpers/mosquitto.js';
import { startTestAgent, type TestAgent } from './helpers/agent.js';
import { withoutParts } from './helpers/status-body.js';
import { waitFor } from './helpers/wait.js';
import { VERSION } from '../src/version.js';

describe('agent core over a real mosquitto', () => {
  let broker: Broker;
  let t: TestAgent;

  before(async () => {
    broker = await startMosquitto();
    t = await startTestAgent(broker.url, { heartbeat_interval: 0.2 });
  });
  after(async () => {
    await t?.stop();
    await broker?.close();
  });

  it('answers status with the sketch table', async () => {
    const reply = await t.client.call('status', {});
    assert.equal(reply.ok, true);
    assert.ok(reply.ok);
    assert.deepEqual(withoutParts(decodeBody(reply.body)), { sketches: {}, version: VERSION });
  });

  it('answers on B/<command> exactly "INFO: <json>\\n", never on /post', async () => {
    const watcher = await mqtt.connectAsync(broker.url);
    const seen: { topic: string; text: string }[] = [];
    watcher.on('message', (topic, payload) => seen.push({ topic, text: payload.toString() }));
    await watcher.subscribeAsync(`${t.agent.base}/#`);
    await watcher.publishAsync(topics.request(t.agent.base, 'status'), '');
    const answer = await waitFor(() => seen.find((m) => m.topic === topics.answer(t.agent.base, 'status')), 'the status answer');
    const json = /^INFO: (\{.*\})\n$/.exec(answer.text)?.[1];
    assert.ok(json, answer.text);
    assert.deepEqual(withoutParts(json), { sketches: {}, version: VERSION });
    // Only the request itself was seen on a /post topic.
    assert.equal(seen.filter((m) => m.topic.endsWith('/post')).length, 1);
    await watcher.endAsync();
  });

  it('answers every malformed payload on every subscribed topic with ERROR: and stays alive', async () => {
    for (const command of commandNames) {
      for (const bad of ['{test}', '[1,2]', '"text"', '{"a":', '\u0000\u0001']) {
        const reply = await t.client.callRaw(command, bad, 5000);
        assert.equal(reply.ok, false, `${command} with ${JSON.stringify(bad)}`);
        assert.ok(!reply.ok && /JSON/.test(reply.message), `${command}: ${!reply.ok && reply.message}`);
      }
    }
    const reply = await t.client.call('status', {});
    assert.equal(reply.ok, true);
  });

  it('refuses an oversized payload without reading it', async () => {
    const reply = await t.client.callRaw('status', Buffer.alloc(2 * 1024 * 1024, 0x20), 10_000);
    assert.equal(reply.ok, false);
    assert.match(!reply.ok ? reply.message : '', /exceeds the limit/);
  });

  it('publishes a heartbeat with the system uptime', async () => {
    const beats: string[] = [];
    await t.client.follow(topics.heartbeat(t.agent.base), (_topic, payload) => beats.push(payload.toString()));
    await waitFor(() => beats.length >= 2, 'two heartbeats');
    for (const beat of beats) {
      assert.match(beat, /^INFO: \d+\.\d{2}\n$/);
      const uptime = Number(beat.slice(6));
      assert.ok(uptime > 0);
    }
  });

  it('serves every command family of the API map', () => {
    assert.deepEqual(new Set(t.agent.serving()), new Set(Object.keys(commandFamilies)));
  });

  it('honours MQTT 5 response topic and correlation data', async () => {
    const requester = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    const replies: { payload: string; correlation?: string }[] = [];
    requester.on('message', (_topic, payload, packet) => {
      replies.push({ payload: payload.toString(), correlation: packet.properties?.correlationData?.toString() });
    });
    await requester.subscribeAsync('test/replies/1');
    await requester.publishAsync(topics.request(t.agent.base, 'status'), '{}', {
      qos: 1,
      properties: { responseTopic: 'test/replies/1', correlationData: Buffer.from('abc-123') },
    });
    const reply = await waitFor(() => replies[0], 'the reply on the response topic');
    assert.equal(reply.correlation, 'abc-123');
    const parsed = parseReply(reply.payload);
    assert.ok(parsed.ok);
    assert.deepEqual(withoutParts(parsed.body), { sketches: {}, version: VERSION });
    await requester.endAsync();
  });

  it('ignores a response topic one cannot publish to, and stays connected', async () => {
    const requester = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    const answers: string[] = [];
    requester.on('message', (_topic, payload) => answers.push(payload.toString()));
    await requester.subscribeAsync(topics.answer(t.agent.base, 'status'));
    await requester.publishAsync(topics.request(t.agent.base, 'status'), '{}', {
      qos: 1,
      properties: { responseTopic: 'evil/#', correlationData: Buffer.from('x') },
    });
    await waitFor(() => answers[0], 'the answer on the status topic');
    assert.ok(t.logs.some((l) => l.includes('"evil/#" is not a topic one can publish to')));
    assert.equal(t.agent.bus.connected, true);
    assert.equal((await t.client.call('status', {})).ok, true);
    await requester.endAsync();
  });
});

describe('agent session lifecycle', () => {
  it('wipes the shadow once per start', async () => {
    const broker = await startMosquitto();
    const watcher = await mqtt.connectAsync(broker.url);
    const wipes: string[] = [];
    watcher.on('message', (topic, payload) => {
      if (topic.endsWith('/shadow/delete')) wipes.push(payload.toString());
    });
    await watcher.subscribeAsync('+/+/+/shadow/delete');
    await watcher.subscribeAsync('devices/+/shadow/delete');
    const t = await startTestAgent(broker.url, { base_topic: 'devices/{id}' });
    try {
      await waitFor(() => wipes.length === 1, 'shadow/delete');
      assert.equal(wipes[0], '');
      assert.equal(t.agent.base, `devices/${t.settings.id}`);
    } finally {
      await t.stop();
      await watcher.endAsync();
      await broker.close();
    }
  });

  it('answers again after a broker restart', async () => {
    const broker = await startMosquitto();
    const t = await startTestAgent(broker.url);
    try {
      await broker.stop();
      await waitFor(() => !t.agent.bus.connected, 'the agent to notice the broker is gone');
      await new Promise((r) => setTimeout(r, 1500));
      await broker.start();
      await waitFor(() => t.agent.bus.connected, 'the agent to reconnect', 10_000);
      await waitFor(async () => (await t.client.call('status', {}, 1000)).ok, 'an answer after the restart', 15_000);
      assert.ok(t.logs.some((l) => /connection failed|reconnecting/.test(l)));
    } finally {
      await t.stop();
      await broker.close();
    }
  });
});
