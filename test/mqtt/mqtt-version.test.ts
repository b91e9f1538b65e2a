// mqtt_version against real brokers: Debian's RabbitMQ 3.10, whose MQTT plugin speaks only 3.1.1
// and hangs up on an MQTT 5 CONNECT, and mosquitto, which speaks 5. RabbitMQ takes 10 to 30 s to
// start, so one node serves the whole file.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import mqtt from 'mqtt';
import { ConfigError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import type { ConnectionSettings } from '../../src/mqtt/broker-options.js';
import { MqttConnection } from '../../src/mqtt/connection.js';
import { parseMqttVersion } from '../../src/settings.js';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { startRabbitMq, type RabbitMq } from '../helpers/rabbitmq.js';
import { sleep, waitFor } from '../helpers/wait.js';

function connectionTo(url: string, clientId: string, more: Partial<ConnectionSettings> = {}) {
  const lines: string[] = [];
  const log = createLogger({ level: 'debug', write: (line) => void lines.push(line) });
  return { lines, connection: new MqttConnection({ url, clientId, backoff: { initialMs: 100, maxMs: 400 }, ...more }, log) };
}

describe('the mqtt_version setting', () => {
  it('takes auto, 5 and 3.1.1, and stops the agent on anything else, naming them', () => {
    assert.equal(parseMqttVersion('auto'), 'auto');
    assert.equal(parseMqttVersion(' 3.1.1 '), '3.1.1');
    assert.equal(parseMqttVersion('5'), '5');
    assert.equal(parseMqttVersion(''), 'auto');
    for (const wrong of ['4', '3', 'v5', 'mqtt5']) {
      assert.throws(() => parseMqttVersion(wrong), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /mqtt_version: expected auto, 5 or 3\.1\.1, got "/);
        return true;
      });
    }
  });
});

describe('mqtt_version against real brokers', () => {
  let rabbit: RabbitMq | undefined;
  let mosquitto: Broker | undefined;

  before(async () => {
    [rabbit, mosquitto] = await Promise.all([startRabbitMq(), startMosquitto()]);
  }, { timeout: 120_000 });
  after(async () => {
    await Promise.all([rabbit?.close(), mosquitto?.close()]);
  });

  it('auto falls back to 3.1.1 with RabbitMQ, and messages go both ways', async () => {
    const { lines, connection } = connectionTo(rabbit!.url, 'auto-rabbit');
    const peer = await mqtt.connectAsync(rabbit!.url, { protocolVersion: 4, clientId: 'peer-rabbit' });
    try {
      connection.start();
      await waitFor(() => connection.connected, 'the session with RabbitMQ', 20_000);
      assert.equal(connection.version, 4);
      assert.ok(lines.some((l) => /INFO  the broker does not speak MQTT 5 \(it hung up on an MQTT 5 CONNECT\): using MQTT 3\.1\.1/.test(l)), lines.join(''));
      assert.equal(lines.filter((l) => / WARN /.test(l)).length, 0, lines.join(''));

      const toAgent: string[] = [];
      await connection.subscribe('ac/version/in', (_topic, payload) => void toAgent.push(payload.toString()));
      await peer.publishAsync('ac/version/in', 'hello agent', { qos: 1 });
      await waitFor(() => toAgent.length === 1, 'the message to the agent');
      assert.deepEqual(toAgent, ['hello agent']);

      const fromAgent: string[] = [];
      peer.on('message', (_topic, payload) => void fromAgent.push(payload.toString()));
      await peer.subscribeAsync('ac/version/out', { qos: 1 });
      await connection.publish('ac/version/out', 'hello peer', { qos: 1 });
      await waitFor(() => fromAgent.length === 1, 'the message from the agent');
      assert.deepEqual(fromAgent, ['hello peer']);
    } finally {
      await peer.endAsync();
      await connection.stop();
    }
  });

  it('auto uses MQTT 5 with mosquitto', async () => {
    const { lines, connection } = connectionTo(mosquitto!.url, 'auto-mosquitto');
    try {
      connection.start();
      await waitFor(() => connection.connected, 'the session with mosquitto');
      assert.equal(connection.version, 5);
      // mosquitto logs the protocol of each client: p5 is MQTT 5, p2 MQTT 3.1.1.
      await waitFor(() => /as auto-mosquitto \(p5,/.test(mosquitto!.log()), 'mosquitto to log an MQTT 5 client');
      assert.ok(!lines.some((l) => /does not speak MQTT 5/.test(l)));
    } finally {
      await connection.stop();
    }
  });

  it('5 never connects to RabbitMQ, and says why in one line however often it retries', async () => {
    const { lines, connection } = connectionTo(rabbit!.url, 'only5-rabbit', { mqttVersion: '5' });
    try {
      connection.start();
      await sleep(3000);
      assert.equal(connection.connected, false);
      assert.equal(connection.version, 5);
      const attempts = lines.filter((l) => /DEBUG reconnecting in \d+ ms \(MQTT 5\)/.test(l)).length;
      assert.ok(attempts >= 6, `${attempts} attempts in 3 s`);
      const warnings = lines.filter((l) => / WARN /.test(l));
      assert.equal(warnings.length, 1, warnings.join(''));
      assert.match(warnings[0] ?? '', /connection failed: the broker closed the connection before accepting the session \(MQTT 5\): brokers that speak only MQTT 3\.1\.1 do that/);
      assert.ok(!lines.some((l) => /\(MQTT 3\.1\.1\)/.test(l)), 'never tries 3.1.1');
    } finally {
      await connection.stop();
    }
  });

  it('3.1.1 uses MQTT 3.1.1 with mosquitto', async () => {
    const { connection } = connectionTo(mosquitto!.url, 'only311-mosquitto', { mqttVersion: '3.1.1' });
    try {
      connection.start();
      await waitFor(() => connection.connected, 'the session with mosquitto');
      assert.equal(connection.version, 4);
      await waitFor(() => /as only311-mosquitto \(p2,/.test(mosquitto!.log()), 'mosquitto to log an MQTT 3.1.1 client');
    } finally {
      await connection.stop();
    }
  });
});
