// A TCP proxy on 127.0.0.1 in front of a real server, to break a connection at a chosen moment:
// hold() keeps what clients send from reaching the server, cut() then drops every connection
// with what was held, so the server never sees it (as when a device's network goes mid-message).
// New connections are forwarded again after a cut.

import { createServer, connect, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  /** From now on, what clients send is kept here instead of forwarded. */
  hold(): void;
  /** What clients sent since hold(). */
  held(): Buffer;
  /** Drops every connection (what was held is lost) and forwards new ones again. */
  cut(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<[Socket, Socket]>();
  let holding = false;
  let held: Buffer[] = [];
  const server = createServer((client) => {
    const upstream = connect({ port: targetPort, host: '127.0.0.1' });
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (data: Buffer) => {
      if (holding) held.push(data);
      else upstream.write(data);
    });
    upstream.on('data', (data: Buffer) => client.write(data));
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    hold: () => {
      holding = true;
    },
    held: () => Buffer.concat(held),
    cut: () => {
      for (const [client, upstream] of pairs) {
        client.destroy();
        upstream.destroy();
      }
      pairs.clear();
      holding = false;
      held = [];
    },
    close: async () => {
      for (const [client, upstream] of pairs) {
        client.destroy();
        upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
