import assert from 'node:assert/strict';
import { createServer, Socket } from 'node:net';
import { describe, it } from 'node:test';
import mqtt from 'mqtt';
import { MqttConnection, withoutCredentials } from '../../src/mqtt/connection.js';
import { CommandRouter } from '../../src/mqtt/router.js';
import { createLogger, silentLogger } from '../../src/log.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { sleep, waitFor } from '../helpers/wait.js';

/** A broker that accepts an MQTT 3.1.1 session and never acknowledges anything. */
async function silentBroker(): Promise<{ url: string; sockets: Socket[]; close(): Promise<void> }> {
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    socket.once('data', () => socket.write(Buffer.from([0x20, 0x02, 0x00, 0x00]))); // CONNACK, accepted
    socket.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    sockets,
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}

type Behaviour = 'hang up on 5' | 'refuse 5' | 'hang up on all';

/** A broker that answers each CONNECT as told, and notes the protocol level of each. */
async function pickyBroker(behaviour: Behaviour): Promise<{ url: string; levels: number[]; dropSessions(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const levels: number[] = [];
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.once('data', (connect) => {
      // Fixed header, remaining length (one byte for these small packets), "\0\4MQTT", level.
      const level = connect[8] ?? 0;
      levels.push(level);
      if (behaviour === 'hang up on all' || (behaviour === 'hang up on 5' && level === 5)) socket.end();
      else if (level === 5) socket.write(Buffer.from([0x20, 0x03, 0x00, 0x84, 0x00])); // 132: unsupported version
      else socket.write(Buffer.from([0x20, 0x02, 0x00, 0x00]));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    levels,
    dropSessions: () => sockets.forEach((s) => s.destroy()),
    close: () => new Promise<void>((r) => {
      sockets.forEach((s) => s.destroy());
      server.close(() => r());
    }),
  };
}

function recordingLogger() {
  const lines: string[] = [];
  return { lines, log: createLogger({ level: 'debug', write: (l) => void lines.push(l) }) };
}

const quick = { initialMs: 20, maxMs: 100 };

describe('MqttConnection: MQTT version', () => {
  it('auto falls back to 3.1.1 on a broker that hangs up on 5, and tries 5 again on the next session', async () => {
    const broker = await pickyBroker('hang up on 5');
    const { lines, log } = recordingLogger();
    const connection = new MqttConnection({ url: broker.url, clientId: 'hangup5', backoff: quick }, log);
    try {
      connection.start();
      await waitFor(() => connection.connected, 'the session');
      assert.equal(connection.version, 4);
      assert.deepEqual(broker.levels, [5, 4]);
      broker.dropSessions();
      await waitFor(() => broker.levels.length === 4 && connection.connected, 'the second session');
      assert.deepEqual(broker.levels, [5, 4, 5, 4]);
      assert.equal(lines.filter((l) => /does not speak MQTT 5 \(it hung up on an MQTT 5 CONNECT\)/.test(l)).length, 1);
      // Negotiating the version is no failure.
      assert.equal(lines.filter((l) => / WARN /.test(l)).length, 0, lines.join(''));
    } finally {
      await connection.stop();
      await broker.close();
    }
  });

  it('auto stays on 3.1.1 for good once the broker refused 5 in its CONNACK', async () => {
    const broker = await pickyBroker('refuse 5');
    const { lines, log } = recordingLogger();
    const connection = new MqttConnection({ url: broker.url, clientId: 'refuse5', backoff: quick }, log);
    try {
      connection.start();
      await waitFor(() => connection.connected, 'the session');
      broker.dropSessions();
      await waitFor(() => broker.levels.length === 3 && connection.connected, 'the second session');
      assert.deepEqual(broker.levels, [5, 4, 4]);
      assert.ok(lines.some((l) => /does not speak MQTT 5 \(it refused MQTT 5 with code 132\)/.test(l)));
    } finally {
      await connection.stop();
      await broker.close();
    }
  });

  it('auto alternates while the broker hangs up on both, and says so without a line per attempt', async () => {
    const broker = await pickyBroker('hang up on all');
    const { lines, log } = recordingLogger();
    const connection = new MqttConnection({ url: broker.url, clientId: 'hangupall', backoff: quick, failureLogIntervalMs: 400 }, log);
    try {
      connection.start();
      await sleep(1500);
      assert.ok(broker.levels.length >= 10, `${broker.levels.length} attempts`);
      // Each 3.1.1 attempt hung up on sends the next one back to 5.
      broker.levels.forEach((level, i) => assert.equal(level, i % 2 === 0 ? 5 : 4, broker.levels.join()));
      const warnings = lines.filter((l) => / WARN /.test(l));
      assert.match(warnings[0] ?? '', /connection failed: the broker closed the connection before accepting the session \(MQTT 3\.1\.1\)/);
      assert.ok(warnings.length >= 2 && warnings.length <= 5, warnings.join(''));
      assert.match(warnings[1] ?? '', /connection failed \d+ more times in the last 0\.\d s: \d+× the broker closed/);
    } finally {
      await connection.stop();
      await broker.close();
    }
  });

  it('5 and 3.1.1 never switch', async () => {
    const broker = await pickyBroker('hang up on 5');
    const { lines, log } = recordingLogger();
    const only5 = new MqttConnection({ url: broker.url, clientId: 'only5', mqttVersion: '5', backoff: quick }, log);
    const only311 = new MqttConnection({ url: broker.url, clientId: 'only311', mqttVersion: '3.1.1', backoff: quick }, silentLogger);
    try {
      only5.start();
      await waitFor(() => broker.levels.length >= 5, 'attempts');
      assert.deepEqual(new Set(broker.levels), new Set([5]));
      assert.equal(only5.connected, false);
      assert.ok(lines.some((l) => /MQTT 5\): brokers that speak only MQTT 3\.1\.1 do that/.test(l)), lines.join(''));
      await only5.stop();
      broker.levels.length = 0;
      only311.start();
      await waitFor(() => only311.connected, 'the 3.1.1 session');
      assert.deepEqual(broker.levels, [4]);
    } finally {
      await only5.stop();
      await only311.stop();
      await broker.close();
    }
  });

  it('logs a refused TCP connection once, keeps MQTT 5, and counts the attempts on connecting', async () => {
    const broker = await pickyBroker('hang up on 5');
    const { lines, log } = recordingLogger();
    const port = new URL(broker.url).port;
    await broker.close();
    const connection = new MqttConnection({ url: `mqtt://127.0.0.1:${port}`, clientId: 'down', backoff: quick }, log);
    try {
      connection.start();
      await sleep(600);
      const warnings = lines.filter((l) => / WARN /.test(l));
      assert.equal(warnings.length, 1, warnings.join(''));
      assert.match(warnings[0] ?? '', /connection failed: connect ECONNREFUSED/);
      assert.equal(connection.version, 5);
    } finally {
      await connection.stop();
    }
  });
});

describe('MqttConnection', () => {
  it('fails a publish still waiting for its acknowledgement when the connection drops', async () => {
    const broker = await silentBroker();
    const connection = new MqttConnection({ url: broker.url, clientId: 'inflight', mqttVersion: '3.1.1' }, silentLogger);
    try {
      connection.start();
      await waitFor(() => connection.connected, 'the session');
      const pending = connection.publish('t/x', 'payload', { qos: 1 });
      await waitFor(() => broker.sockets.length === 1, 'the socket');
      broker.sockets[0]?.destroy();
      await assert.rejects(pending, /connection was lost before the broker acknowledged/);
    } finally {
      await connection.stop();
      await broker.close();
    }
  });

  it('never logs a password that is part of the broker URL', () => {
    assert.equal(withoutCredentials('mqtts://dev:s3cret@broker.example:8883'), 'mqtts://dev:***@broker.example:8883');
    assert.equal(withoutCredentials('mqtt://broker.example:1883'), 'mqtt://broker.example:1883');
  });
});

describe('MqttConnection with a real broker', () => {
  it('sends a quick answer and the acknowledgement of its request in one write', async () => {
    const broker = await startMosquitto();
    // Each call of a socket's _write/_writev is one write(2)/writev(2) to the kernel. (A relay
    // counting what arrives cannot tell: the receiver often reads two close writes at once.)
    const writesBy = new Map<unknown, number>();
    const proto = Socket.prototype as unknown as Record<'_write' | '_writev', (...args: unknown[]) => unknown>;
    const original = { _write: proto._write, _writev: proto._writev };
    const connection = new MqttConnection({ url: broker.url, clientId: 'coalesce' }, silentLogger);
    const router = new CommandRouter({ bus: connection, base: 'dev', log: silentLogger });
    router.serve({ family: 'status', handle: async () => ({ sketches: {} }) });
    let requester: mqtt.MqttClient | undefined;
    try {
      for (const name of ['_write', '_writev'] as const) {
        proto[name] = function (this: unknown, ...args: unknown[]) {
          writesBy.set(this, (writesBy.get(this) ?? 0) + 1);
          return original[name].apply(this, args);
        };
      }
      requester = await mqtt.connectAsync(broker.url);
      const requesterSocket = requester.stream;
      connection.start();
      await waitFor(() => connection.connected, 'the session');
      await router.start();
      let answered: () => void = () => {};
      requester.on('message', () => answered());
      await requester.subscribeAsync('dev/status', { qos: 1 });
      const requests = 50;
      const agentWrites = () => [...writesBy].filter(([socket]) => socket !== requesterSocket).reduce((sum, [, n]) => sum + n, 0);
      const before = agentWrites();
      for (let i = 0; i < requests; i++) {
        const answer = new Promise<void>((r) => (answered = r));
        await requester.publishAsync('dev/status/post', '{}', { qos: 1 });
        await answer;
      }
      // One write per request (PUBACK + answer together); two each when they go apart.
      const writes = agentWrites() - before;
      assert.ok(writes <= requests + 5, `${writes} writes for ${requests} requests`);
    } finally {
      proto._write = original._write;
      proto._writev = original._writev;
      await requester?.endAsync();
      await router.stop();
      await connection.stop();
      await broker.close();
    }
  });
});
