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

/** The same flood against mosquitto_sub (a C client that only prints) on a broker with mosquitto's
 * default queue of 1,000 messages a client: what the broker drops for the fastest reader there is. */
export async function floodFloor(options: { seed: number; count: number }): Promise<{ sent: number; brokerDrops: number }> {
  const broker = await startMosquitto({ extraConfig: ['sys_interval 1'] });
  const base = '$aws/things/chaos-floor';
  const { port } = new URL(broker.url);
  const subscriber = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', port, '-q', '1', '-t', `${base}/+/post`, '-t', `${base}/+/+/post`, '-t', `${base}/+/+/+/post`], { stdio: ['ignore', 'ignore', 'ignore'] });
  try {
    // mosquitto_sub is subscribed once the broker counts a subscription for it.
    const watcher = await mqtt.connectAsync(broker.url);
    const subscribed = new Promise<void>((resolve) => watcher.on('message', (_t, p) => Number(p.toString()) >= 3 && resolve()));
    await watcher.subscribeAsync('$SYS/broker/subscriptions/count');
    await Promise.race([subscribed, new Promise((r) => setTimeout(r, 3000))]);
    await watcher.endAsync(true);
    const sender = spawn(process.execPath, ['--import', 'tsx', senderScript, broker.url, base, 'chaos/floor', String(options.seed), String(options.count)], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
    await once(sender, 'exit');
    // Whatever the broker still holds is written out, then the $SYS tree refreshed.
    await new Promise((r) => setTimeout(r, 3000));
    const reader = await mqtt.connectAsync(broker.url);
    const dropped = new Promise<number>((resolve) => reader.on('message', (_t, p) => resolve(Number(p.toString()))));
    await reader.subscribeAsync('$SYS/broker/publish/messages/dropped');
    const drops = await Promise.race([dropped, new Promise<number>((resolve) => setTimeout(() => resolve(0), 3000))]);
    await reader.endAsync(true);
    return { sent: options.count, brokerDrops: drops };
  } finally {
    subscriber.kill();
    await broker.close();
  }
}
