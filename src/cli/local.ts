// Local mode, the embedded default: an aedes broker on 127.0.0.1 (TCP and WebSocket) and the agent
// connected to it, with a device id generated once and kept in a data folder. No cloud account.

import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Aedes } from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { readConfigFile, writeConfigFile } from './config-file.js';
import { ensureLocalKeyPair } from './signing.js';
import type { Settings } from '../settings.js';

export interface LocalBroker {
  mqttUrl: string;
  wsUrl: string;
  close(): Promise<void>;
}

function listen(server: TcpServer | HttpServer, port: number, host: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      resolvePort(typeof address === 'object' && address ? address.port : port);
    });
  });
}

/** Starts aedes on 127.0.0.1: MQTT over TCP on `mqttPort`, MQTT over WebSocket on `wsPort`
 * (0 picks a free port). */
export async function startLocalBroker(options: { mqttPort: number; wsPort: number; host?: string }): Promise<LocalBroker> {
  const host = options.host ?? '127.0.0.1';
  const broker = await Aedes.createBroker();
  const tcp = createTcpServer(broker.handle);
  const http = createHttpServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket only\n');
  });
  const wss = new WebSocketServer({ server: http });
  wss.on('connection', (socket) => {
    const stream = createWebSocketStream(socket);
    broker.handle(stream as unknown as Parameters<typeof broker.handle>[0]);
  });
  const mqttPort = await listen(tcp, options.mqttPort, host);
  const wsPort = await listen(http, options.wsPort, host);
  return {
    mqttUrl: `mqtt://${host}:${mqttPort}`,
    wsUrl: `ws://${host}:${wsPort}`,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      await new Promise<void>((r) => http.close(() => r()));
      await new Promise<void>((r) => tcp.close(() => r()));
      await new Promise<void>((r) => broker.close(() => r()));
    },
  };
}

export interface LocalLayout {
  dataDir: string;
  configFile: string;
}

export function localLayout(dataDir: string): LocalLayout {
  const dir = resolve(dataDir);
  return { dataDir: dir, configFile: join(dir, 'arduino-connector.cfg') };
}

/** The settings of the local device: its id is made once and kept in the data folder's config
 * file, so a restarted local agent is the same device with the same sketches. */
export async function localSettings(base: Settings, layout: LocalLayout, brokerUrl: string): Promise<Settings> {
  await mkdir(layout.dataDir, { recursive: true, mode: 0o700 });
  const stored = await readConfigFile(layout.configFile, false);
  const id = stored.id || base.id || `local:${randomUUID()}`;
  // The URL is rewritten each start: `call` finds the broker there, whose port may change.
  await writeConfigFile(layout.configFile, { id, url: brokerUrl });
  // A signature_key of the user's wins; otherwise the data folder's own pair, so that `deploy`
  // can run a program here without any key handling.
  const signature_key = base.signature_key || (await ensureLocalKeyPair(layout.dataDir)).publicKeyPath;
  return {
    ...base,
    signature_key,
    id,
    url: brokerUrl,
    cert_path: '',
    sketches_path: base.sketches_path === '/var/lib/arduino-connector' ? layout.dataDir : base.sketches_path,
    drop_folder: base.drop_folder === '/tmp/sketches' ? join(layout.dataDir, 'drop') : base.drop_folder,
  };
}
