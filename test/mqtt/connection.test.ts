import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { MqttConnection, withoutCredentials } from '../../src/mqtt/connection.js';
import { silentLogger } from '../../src/log.js';
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
