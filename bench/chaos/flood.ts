// Hostile requests sent as fast as one client can, without waiting for answers, while the agent's
// memory is sampled: every request must get an answer, and the broker must drop nothing.

import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { startMosquitto } from '../../test/helpers/mosquitto.js';
import type { ChaosWorld } from './world.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const senderScript = join(here, 'sender.ts');

export interface FloodResult {
  sent: number;
  answered: number;
  /** Requests whose answer did not start with INFO: or ERROR:. */
  malformedAnswers: number;
  /** Messages the broker dropped during the flood ($SYS counter, or its log when larger). */
  brokerDrops: number;
  sendMs: number;
  /** From the first request sent to the last answer received. */
  answerMs: number;
  rssBeforeMiB: number;
  rssPeakMiB: number;
  rssAfterMiB: number;
  /** How long after the last answer rssAfterMiB was read. */
  settleSeconds: number;
}

/** Reads the agent's RSS every `everyMs` and keeps the peak. */
export function sampleRss(world: ChaosWorld, everyMs = 50): { peak(): number; stop(): void } {
  let peak = 0;
  const timer = setInterval(() => {
    world.rssMiB().then((rss) => (peak = Math.max(peak, rss)), () => {});
  }, everyMs);
  return { peak: () => peak, stop: () => clearInterval(timer) };
}

/** Sends the seeded requests from a process of their own and counts the answers here. */
export async function flood(world: ChaosWorld, options: { seed: number; count: number; settleSeconds: number; quietMs?: number }): Promise<FloodResult> {
  const dropsBefore = await world.brokerDrops();
  const dropLinesBefore = world.brokerDropLines();
  const rssBeforeMiB = await world.rssMiB();
  const responseTopic = `chaos/flood/${randomUUID()}`;
  const receiver = await mqtt.connectAsync(world.broker.url, { protocolVersion: 5 });
  const seen = new Uint8Array(options.count);
  let answered = 0;
  let malformedAnswers = 0;
  let lastAnswer = performance.now();
  receiver.on('message', (_topic, payload, packet) => {
    const index = Number(packet.properties?.correlationData?.toString().slice(1));
    if (!Number.isInteger(index) || index < 0 || index >= seen.length || seen[index]) return;
    seen[index] = 1;
    answered++;
    lastAnswer = performance.now();
    if (!/^(INFO|ERROR): /.test(payload.toString('latin1', 0, 7))) malformedAnswers++;
  });
  await receiver.subscribeAsync(responseTopic, { qos: 1 });
  const sampler = sampleRss(world);
  const start = performance.now();
  const sender = spawn(process.execPath, ['--import', 'tsx', senderScript, world.broker.url, world.base, responseTopic, String(options.seed), String(options.count)], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  const [code] = (await once(sender, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`the sender failed (exit ${code})`);
  const sendMs = performance.now() - start;
  // Done when every request is answered, or when no answer came for quietMs (the rest are lost).
  const quietMs = options.quietMs ?? 15_000;
  while (answered < options.count && performance.now() - lastAnswer < quietMs) await new Promise((r) => setTimeout(r, 100));
  const answerMs = lastAnswer - start;
  await receiver.endAsync(true);
  await new Promise((r) => setTimeout(r, options.settleSeconds * 1000));
  sampler.stop();
  const rssAfterMiB = await world.rssMiB();
  // The $SYS tree is refreshed every second.
  await new Promise((r) => setTimeout(r, 1500));
  const drops = (await world.brokerDrops()) - dropsBefore;
  const dropLines = world.brokerDropLines() - dropLinesBefore;
  return {
    sent: options.count,
    answered,
    malformedAnswers,
    brokerDrops: Math.max(drops, dropLines),
    sendMs,
    answerMs,
    rssBeforeMiB,
    rssPeakMiB: Math.max(sampler.peak(), rssBeforeMiB),
    rssAfterMiB,
    settleSeconds: options.settleSeconds,
  };
}

// A subscriber that only counts, on MQTT.js as the agent is.
const countingSubscriber = `
import mqtt from 'mqtt';
const [url, ...filters] = process.argv.slice(1);
const c = await mqtt.connectAsync(url, { protocolVersion: 5 });
c.on('message', () => process.stdout.write('\\n'));
await c.subscribeAsync(filters, { qos: 1 });
`;

/** The same flood against a client that only reads, on a broker with mosquitto's default queue of
 * 1,000 messages a client: how much of it the fastest reader (mosquitto_sub, in C) and a bare
 * MQTT.js client receive. */
export async function floodFloor(options: { seed: number; count: number; reader: 'mosquitto_sub' | 'MQTT.js' }): Promise<{ sent: number; received: number }> {
  const broker = await startMosquitto();
  const base = '$aws/things/chaos-floor';
  const { port } = new URL(broker.url);
  const filters = [`${base}/+/post`, `${base}/+/+/post`, `${base}/+/+/+/post`];
  // One line per message.
  const subscriber =
    options.reader === 'mosquitto_sub'
      ? spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', port, '-q', '1', '-F', '%t', ...filters.flatMap((f) => ['-t', f])], { stdio: ['ignore', 'pipe', 'ignore'] })
      : spawn(process.execPath, ['--input-type=module', '-e', countingSubscriber, broker.url, ...filters], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  let received = 0;
  let lastLine = performance.now();
  subscriber.stdout.on('data', (chunk: Buffer) => {
    for (const byte of chunk) if (byte === 10) received++;
    lastLine = performance.now();
  });
  try {
    // Subscribed once a first message goes through.
    const probe = await mqtt.connectAsync(broker.url);
    while (received === 0) {
      await probe.publishAsync(`${base}/status/post`, '{}');
      await new Promise((r) => setTimeout(r, 100));
    }
    await probe.endAsync();
    const before = received;
    const sender = spawn(process.execPath, ['--import', 'tsx', senderScript, broker.url, base, 'chaos/floor', String(options.seed), String(options.count)], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
    await once(sender, 'exit');
    while (performance.now() - lastLine < 2000) await new Promise((r) => setTimeout(r, 100));
    return { sent: options.count, received: received - before };
  } finally {
    subscriber.kill();
    await broker.close();
  }
}
