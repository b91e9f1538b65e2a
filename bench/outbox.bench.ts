// The offline queue (issue 13): how fast the record log takes messages (with the default fsync
// policy, one fdatasync a second, and with one per append), and how fast a full queue is
// delivered to a real mosquitto once it is back, with the process's RSS while it drains.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { RecordLog } from '../src/lib/record-log.js';
import { silentLogger } from '../src/log.js';
import { MqttConnection } from '../src/mqtt/connection.js';
import { Outbox } from '../src/mqtt/outbox.js';
import { startMosquitto } from '../test/helpers/mosquitto.js';
import { tempDir } from '../test/helpers/tmp.js';
import type { BenchResult } from './types.js';

const MiB = 1024 * 1024;
const queueBytes = Number(process.env.BENCH_OUTBOX_MIB ?? 16) * MiB;
const messageBytes = 1024;

const rssMiB = () => process.memoryUsage().rss / MiB;

async function appendRate(dir: string, bytes: number, syncIntervalMs: number): Promise<number> {
  const log = await RecordLog.open(dir, { maxBytes: bytes * 2, syncIntervalMs });
  const body = randomBytes(messageBytes);
  const start = performance.now();
  for (let written = 0; written < bytes; written += messageBytes) await log.append(log.takeSeq(), body);
  await log.close();
  return bytes / MiB / ((performance.now() - start) / 1000);
}

export default async function outboxBench(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const dir = await tempDir('ac-bench-outbox-');
  const broker = await startMosquitto({ extraConfig: ['max_queued_messages 0'], persistence: true });
  try {
    const lazy = await appendRate(join(dir.path, 'lazy'), queueBytes, 1000);
    results.push({ name: `record log append, ${messageBytes} B messages, fdatasync each second`, value: lazy, unit: 'MB/s' });
    const eager = await appendRate(join(dir.path, 'eager'), Math.min(queueBytes, 2 * MiB), 0);
    results.push({ name: `record log append, ${messageBytes} B messages, fdatasync each append`, value: eager, unit: 'MB/s' });

    // A subscriber of its own process (mosquitto_sub, printing each payload's length) with a
    // session that outlives the outage, so that the RSS read is the outbox's process alone.
    const topic = `bench/outbox/${process.pid}`;
    const subscriber = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(broker.port), '-q', '1', '-c', '-i', `bench-outbox-sub-${process.pid}`, '-t', topic, '-F', '%l'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let receivedBytes = 0;
    let pending = '';
    subscriber.stdout.on('data', (d: Buffer) => {
      const lines = (pending + d.toString()).split('\n');
      pending = lines.pop()!;
      for (const line of lines) receivedBytes += Number(line);
    });
    await new Promise((r) => setTimeout(r, 500));
    const bus = new MqttConnection({ url: broker.url, clientId: `bench-outbox-${process.pid}`, backoff: { initialMs: 100, maxMs: 100 } }, silentLogger);
    bus.start();
    while (!bus.connected) await new Promise((r) => setTimeout(r, 20));
    await broker.stop();
    while (bus.connected) await new Promise((r) => setTimeout(r, 20));
    const outbox = new Outbox({ bus, dir: join(dir.path, 'outbox'), maxBytes: queueBytes, droppedTopic: `${topic}/dropped`, log: silentLogger });
    await outbox.start();
    const payload = randomBytes(messageBytes);
    // Fills the queue to 90 %: nothing is dropped.
    const messages = Math.floor((queueBytes * 0.9) / (messageBytes + 16 + 3 + topic.length));
    const fillStart = performance.now();
    for (let i = 0; i < messages; i++) await outbox.publish(topic, payload);
    const fillSeconds = (performance.now() - fillStart) / 1000;
    results.push({ name: `outbox publish while offline (${messages} messages)`, value: (messages * messageBytes) / MiB / fillSeconds, unit: 'MB/s' });

    const rssBefore = rssMiB();
    let rssPeak = rssBefore;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssMiB())), 20);
    const connected = new Promise<void>((resolve) => bus.once('connect', () => resolve()));
    await broker.start();
    await connected;
    const drainStart = performance.now();
    while (receivedBytes < messages * messageBytes) await new Promise((r) => setTimeout(r, 5));
    const drainSeconds = (performance.now() - drainStart) / 1000;
    clearInterval(sampler);
    results.push({ name: `queue of ${(messages * messageBytes / MiB).toFixed(1)} MiB delivered after reconnect`, value: drainSeconds * 1000, unit: 'ms' });
    results.push({ name: 'queue replay to a subscriber', value: (messages * messageBytes) / MiB / drainSeconds, unit: 'MB/s' });
    results.push({ name: 'RSS before the replay', value: rssBefore, unit: 'MiB' });
    results.push({ name: 'RSS peak during the replay', value: rssPeak, unit: 'MiB' });
    await outbox.stop();
    await bus.stop();
    subscriber.kill();
  } finally {
    await broker.close();
    await dir.remove();
  }
  return results;
}
