// A real mosquitto broker for a test: its own port on 127.0.0.1, optionally TLS with client
// certificates, stoppable and restartable on the same port.

import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, waitForPort } from './net.js';
import { tempDir } from './tmp.js';

export interface TlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
  /** Ask clients for a certificate signed by the CA (mutual TLS). */
  requireCertificate: boolean;
}

export interface Broker {
  port: number;
  url: string;
  /** Everything mosquitto logged so far. */
  log(): string;
  stop(): Promise<void>;
  /** Starts it again on the same port (after stop()). */
  start(): Promise<void>;
  /** Sends a signal to the running broker (SIGSTOP: a broker that hangs, SIGCONT: back). */
  signal(signal: NodeJS.Signals): void;
  close(): Promise<void>;
}

export interface MosquittoOptions {
  tls?: TlsFiles;
  port?: number;
  /** Keep sessions and queued messages across stop() and start() (saved in its folder). */
  persistence?: boolean;
  /** More lines of mosquitto.conf. */
  extraConfig?: string[];
}

export async function startMosquitto(options: MosquittoOptions = {}): Promise<Broker> {
  const dir = await tempDir('ac-mosquitto-');
  const port = options.port ?? (await freePort());
  const lines = [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    options.persistence ? `persistence true\npersistence_location ${dir.path}/` : 'persistence false',
    // Small request/answer packets otherwise wait on Nagle's algorithm (tens of ms each).
    'set_tcp_nodelay true',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'log_type notice',
    // Keeps root so test keys need no ownership changes.
    'user root',
  ];
  lines.push(...(options.extraConfig ?? []));
  if (options.tls) {
    lines.push(`cafile ${options.tls.caFile}`, `certfile ${options.tls.certFile}`, `keyfile ${options.tls.keyFile}`);
    lines.push(`require_certificate ${options.tls.requireCertificate ? 'true' : 'false'}`);
  }
  const confFile = join(dir.path, 'mosquitto.conf');
  await writeFile(confFile, `${lines.join('\n')}\n`);
  let output = '';
  let child: ChildProcess | undefined;

  const start = async () => {
    const proc = spawn('mosquitto', ['-c', confFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    proc.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<never>((_, reject) => proc.once('exit', (code) => reject(new Error(`mosquitto exited (${code}): ${output}`))));
    await Promise.race([waitForPort(port), exited]);
  };
  const stop = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill('SIGTERM');
    });
  };
  await start();
  return {
    port,
    url: `${options.tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${port}`,
    log: () => output,
    stop,
    start,
    signal: (signal) => void child?.kill(signal),
    close: async () => {
      await stop();
      await dir.remove();
    },
  };
}
