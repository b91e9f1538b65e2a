import assert from 'node:assert/strict';
import { createServer, Socket } from 'node:net';
import { describe, it } from 'node:test';
import mqtt from 'mqtt';
import { MqttConnection, withoutCredentials } from '../../src/mqtt/connection.js';
import { CommandRouter } from '../../src/mqtt/router.js';
import { silentLogger } from '../../src/log.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { waitFor } from '../helpers/wait.js';

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

describe('MqttConnection', () => {
  it('fails a publish still waiting for its acknowledgement when the connection drops', async () => {
    const broker = await silentBroker();
    const connection = new MqttConnection({ url: broker.url, clientId: 'inflight', protocolVersion: 4 }, silentLogger);
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
