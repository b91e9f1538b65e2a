// What the local bus costs and how fast it forwards: two built agents side by side on one broker,
// one without a bus (nats_port=0), one with its nats-server. After they settle, the RSS of each
// (and of the nats-server), then on the one with a bus: the latency from a NATS publish to the
// MQTT message on B/shadow/update, one message at a time, and the throughput of a burst, all
// within the day's 1,000 messages that go without delay.

import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import mqtt from 'mqtt';
import { startMosquitto } from '../test/helpers/mosquitto.js';
import { freePort } from '../test/helpers/net.js';
import { tempDir } from '../test/helpers/tmp.js';
import { agentNodeArgs, agentReady, root } from './agent.js';
import type { BenchResult } from './types.js';

const settleSeconds = Number(process.env.BENCH_SHADOW_SETTLE ?? 60);
const latencySamples = 200;
const burst = 800;

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024;
}

/** The nats-server the agent `pid` started. */
async function serverOf(pid: number): Promise<number> {
  for (const entry of await readdir('/proc')) {
    const argv = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (argv.includes(`\0arduino-connector-bus-${pid}-`)) return Number(entry);
  }
  throw new Error(`no nats-server of agent ${pid}`);
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

export default async function shadowBench(): Promise<BenchResult[]> {
  const broker = await startMosquitto();
  const dir = await tempDir('ac-bench-shadow-');
  const children: ChildProcess[] = [];
  const port = await freePort();
  try {
    const start = (name: string, natsPort: number) => {
      const args = ['-id', `bench-shadow-${name}`, '-url', broker.url, '-cert_path=', '-sketches_path', dir.path, '-drop_folder', join(dir.path, `drop-${name}`), '-docker_host', join(dir.path, 'no-docker.sock'), '-apt_config_dir', join(dir.path, 'apt'), '-nats_port', String(natsPort), '-config', '/dev/null'];
      const child = spawn(process.execPath, agentNodeArgs(args), { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
      let log = '';
      child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
      children.push(child);
      return { child, log: () => log };
    };
    const without = start('off', 0);
    const withBus = start('bus', port);
    const ready = (agent: { log(): string }, pattern: RegExp) => agentReady(agent.log, pattern);
    await Promise.all([ready(without, /local bus off/), ready(withBus, /forwarding \$arduino/)]);
    process.stderr.write(`bench: shadow: ${settleSeconds} s to settle...\n`);
    await new Promise((r) => setTimeout(r, settleSeconds * 1000));
    const server = await serverOf(withBus.child.pid as number);
    const rss = { without: await rssMiB(without.child.pid as number), withBus: await rssMiB(withBus.child.pid as number), server: await rssMiB(server) };

    const watcher = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
    let onMessage: (() => void) | undefined;
    let received = 0;
    watcher.on('message', () => {
      received += 1;
      onMessage?.();
    });
    await watcher.subscribeAsync('$aws/things/bench-shadow-bus/shadow/update', { qos: 1 });
    const nc = await connect({ servers: `127.0.0.1:${port}` });
    const latencies: number[] = [];
    for (let i = 0; i < latencySamples; i++) {
      const arrived = new Promise<void>((resolve) => (onMessage = resolve));
      const t0 = process.hrtime.bigint();
      nc.publish('$arduino.cloud.latency', String(i));
      await arrived;
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    received = 0;
    const all = new Promise<void>((resolve) => (onMessage = () => received === burst && resolve()));
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < burst; i++) nc.publish('$arduino.cloud.burst', `{"i":${i},"v":${Math.random()}}`);
    await all;
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    await nc.close();
    await watcher.endAsync();
    latencies.sort((a, b) => a - b);
    return [
      { name: 'idle agent RSS, nats_port=0', value: rss.without, unit: 'MiB' },
      { name: 'idle agent RSS, with the local bus', value: rss.withBus, unit: 'MiB' },
      { name: "the bus's nats-server RSS", value: rss.server, unit: 'MiB' },
      { name: `NATS publish -> B/shadow/update latency p50 (${latencySamples} one at a time)`, value: percentile(latencies, 50), unit: 'ms' },
      { name: 'NATS publish -> B/shadow/update latency p99', value: percentile(latencies, 99), unit: 'ms' },
      { name: `forwarding throughput, a burst of ${burst} (under the rate limit)`, value: burst / seconds, unit: 'msg/s' },
    ];
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
    await broker.close();
    await dir.remove();
  }
}
