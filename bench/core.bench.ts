// Issue 2's benchmark: `status` round trip through a local mosquitto against a bare MQTT.js echo
// client on the same broker, the idle agent's memory against a bare node process, and the time
// from start to the first heartbeat. The agent runs compiled (dist/), as a device runs it.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { startMosquitto } from '../test/helpers/mosquitto.js';
import { tempDir } from '../test/helpers/tmp.js';
import { agentNodeArgs, root } from './agent.js';
import type { BenchResult } from './types.js';

const requests = Number(process.env.BENCH_REQUESTS ?? 10_000);
const idleSeconds = Number(process.env.BENCH_IDLE_SECONDS ?? 60);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function rssKb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
}

/** Sequential request/answer round trips; returns latencies in ms, sorted. */
async function roundTrips(client: MqttClient, requestTopic: string, answerTopic: string, count: number): Promise<number[]> {
  await client.subscribeAsync(answerTopic, { qos: 1 });
  const latencies: number[] = [];
  let resolveAnswer: (() => void) | undefined;
  client.on('message', (topic) => {
    if (topic === answerTopic) resolveAnswer?.();
  });
  for (let i = 0; i < count + 50; i++) {
    const answered = new Promise<void>((r) => (resolveAnswer = r));
    const t0 = process.hrtime.bigint();
    client.publish(requestTopic, '{}', { qos: 1 });
    await answered;
    // The first 50 of a block warm both sides up (JIT, socket buffers) and are not counted.
    if (i >= 50) latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  client.removeAllListeners('message');
  await client.unsubscribeAsync(answerTopic);
  return latencies.sort((a, b) => a - b);
}

const echoScript = `
import mqtt from 'mqtt';
const c = await mqtt.connectAsync(process.argv[1], { protocolVersion: 5 });
c.stream.setNoDelay(true);
c.on('message', (_t, p) => c.publish('bench/echo', 'INFO: ' + p.toString() + '\\n', { qos: 1 }));
await c.subscribeAsync('bench/echo/post', { qos: 1 });
console.log('ready');
`;

function waitForLine(child: ChildProcess, pattern: RegExp, stream: 'stdout' | 'stderr'): Promise<void> {
  return new Promise((resolveLine, reject) => {
    let seen = '';
    child[stream]?.on('data', (d: Buffer) => {
      seen += d.toString();
      if (pattern.test(seen)) resolveLine();
    });
    child.once('exit', (code) => reject(new Error(`exited (${code}) before ${pattern}: ${seen}`)));
  });
}

export default async function coreBench(): Promise<BenchResult[]> {
  const broker = await startMosquitto();
  const dir = await tempDir('ac-bench-core-');
  const children: ChildProcess[] = [];
  try {
    const id = 'bench-device';
    const cfg = join(dir.path, 'agent.cfg');
    await writeFile(cfg, `id=${id}\nurl=${broker.url}\nsketches_path=${dir.path}\ndrop_folder=${dir.path}/drop\ncert_path=\nlog_level=warn\n`);

    const watcher = await mqtt.connectAsync(broker.url);
    let firstBeat: bigint | undefined;
    watcher.on('message', (topic) => {
      if (topic.endsWith('/heartbeat') && firstBeat === undefined) firstBeat = process.hrtime.bigint();
    });
    await watcher.subscribeAsync(`$aws/things/${id}/heartbeat`);

    const started = process.hrtime.bigint();
    const agent = spawn(process.execPath, agentNodeArgs(['-config', cfg]), { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(agent);
    while (firstBeat === undefined) {
      if (agent.exitCode !== null) throw new Error('the agent exited during the benchmark');
      await new Promise((r) => setTimeout(r, 2));
    }
    const startToBeatMs = Number(firstBeat - started) / 1e6;

    const echo = spawn(process.execPath, ['--input-type=module', '-e', echoScript, broker.url], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(echo);
    await waitForLine(echo, /ready/, 'stdout');

    const requester = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    // The agent and the echo client both turn Nagle off; so does the requester.
    (requester.stream as unknown as { setNoDelay(v: boolean): void }).setNoDelay(true);
    const base = `$aws/things/${id}`;
    // Alternating blocks, so that whatever else the machine does meanwhile weighs on both sides.
    const blocks = 10;
    const agentLat: number[] = [];
    const echoLat: number[] = [];
    for (let b = 0; b < blocks; b++) {
      agentLat.push(...(await roundTrips(requester, `${base}/status/post`, `${base}/status`, requests / blocks)));
      echoLat.push(...(await roundTrips(requester, 'bench/echo/post', 'bench/echo', requests / blocks)));
    }
    agentLat.sort((a, b) => a - b);
    echoLat.sort((a, b) => a - b);
    await requester.endAsync();
    await watcher.endAsync();

    const bare = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    children.push(bare);
    process.stderr.write(`bench: core: waiting ${idleSeconds} s for idle memory...\n`);
    await new Promise((r) => setTimeout(r, idleSeconds * 1000));
    const agentRss = await rssKb(agent.pid as number);
    const bareRss = await rssKb(bare.pid as number);

    const p50 = percentile(agentLat, 50);
    const p99 = percentile(agentLat, 99);
    const echoP50 = percentile(echoLat, 50);
    const echoP99 = percentile(echoLat, 99);
    return [
      { name: `status round trip p50 (${requests} requests)`, value: p50, unit: 'ms' },
      { name: 'status round trip p99', value: p99, unit: 'ms', target: '<= 5 ms', met: p99 <= 5 },
      { name: 'bare MQTT.js echo p50', value: echoP50, unit: 'ms' },
      { name: 'bare MQTT.js echo p99', value: echoP99, unit: 'ms' },
      { name: 'p50 ratio agent / bare echo', value: p50 / echoP50, unit: 'x', target: '<= 1.3', met: p50 / echoP50 <= 1.3 },
      { name: 'p99 ratio agent / bare echo', value: p99 / echoP99, unit: 'x', target: '<= 1.3', met: p99 / echoP99 <= 1.3 },
      { name: `idle agent RSS after ${idleSeconds} s`, value: agentRss / 1024, unit: 'MiB' },
      { name: 'bare node RSS', value: bareRss / 1024, unit: 'MiB' },
      { name: 'idle RSS ratio agent / bare node', value: agentRss / bareRss, unit: 'x', target: '<= 1.6', met: agentRss / bareRss <= 1.6 },
      { name: 'start to first heartbeat', value: startToBeatMs, unit: 'ms' },
    ];
  } finally {
    for (const child of children) child.kill('SIGKILL');
    await broker.close();
    await dir.remove();
  }
}
