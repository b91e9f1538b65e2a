// Issue 2's benchmark: `status` round trip through a local mosquitto against a bare MQTT.js echo
// client on the same broker and against the same echo in C on libmosquitto (the physical floor),
// the idle agent's memory against a bare node process, and the time from start to the first
// heartbeat. The agent runs compiled (dist/), as a device runs it.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { startMosquitto } from '../test/helpers/mosquitto.js';
import { tempDir } from '../test/helpers/tmp.js';
import { agentNodeArgs, root } from './agent.js';
import { buildMosquittoEcho } from './echo/build.js';
import type { BenchResult } from './types.js';

const requests = Number(process.env.BENCH_REQUESTS ?? 10_000);
const idleSeconds = Number(process.env.BENCH_IDLE_SECONDS ?? 60);
const warmup = Number(process.env.BENCH_WARMUP ?? 3_000);
const blockSize = 100;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function rssKb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
}

interface Responder {
  request: string;
  answer: string;
  latencies: number[];
  /** Latencies of the uncounted warm-up requests, reported apart. */
  warmup: number[];
}

/** One MQTT.js client that sends requests one at a time and times each answer. */
class Requester {
  private waiting: { topic: string; answered: () => void } | undefined;

  constructor(private readonly client: MqttClient) {
    client.on('message', (topic) => {
      const waiting = this.waiting;
      if (waiting?.topic !== topic) return;
      this.waiting = undefined;
      waiting.answered();
    });
  }

  /** `count` sequential round trips; their latencies (ms) go to `into`. */
  async roundTrips(responder: Responder, count: number, into: number[]): Promise<void> {
    for (let i = 0; i < count; i++) {
      const answered = new Promise<void>((r) => (this.waiting = { topic: responder.answer, answered: r }));
      const t0 = process.hrtime.bigint();
      this.client.publish(responder.request, '{}', { qos: 1 });
      await answered;
      into.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  }
}

function shuffled<T>(items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

// A bare MQTT.js responder: answers `<topic>/post` on `<topic>` the way the agent answers status.
const echoScript = `
import mqtt from 'mqtt';
const [url, topic] = process.argv.slice(1);
const c = await mqtt.connectAsync(url, { protocolVersion: 5 });
c.stream.setNoDelay(true);
c.on('message', (_t, p) => c.publish(topic, 'INFO: ' + p.toString() + '\\n', { qos: 1 }));
await c.subscribeAsync(topic + '/post', { qos: 1 });
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
  // Before anything starts, so a missing compiler fails the bench at once.
  const cEchoBin = await buildMosquittoEcho();
  const broker = await startMosquitto();
  const dir = await tempDir('ac-bench-core-');
  const children: ChildProcess[] = [];
  try {
    const id = 'bench-device';
    const cfg = join(dir.path, 'agent.cfg');
    await writeFile(cfg, `id=${id}\nurl=${broker.url}\nsketches_path=${dir.path}\ndrop_folder=${dir.path}/drop\ncert_path=\nlog_level=warn\nnats_port=0\n`);

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

    // Two identical echo clients: the first is what the agent is compared with; the second,
    // compared with the first, shows how far the ratios move on this machine for the very same
    // program (process placement on the CPUs, the host), i.e. the noise floor of the ratios.
    const echoes: Responder[] = [];
    for (const topic of ['bench/echo', 'bench/echo-control']) {
      const echo = spawn(process.execPath, ['--input-type=module', '-e', echoScript, broker.url, topic], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(echo);
      await waitForLine(echo, /ready/, 'stdout');
      echoes.push({ request: `${topic}/post`, answer: topic, latencies: [], warmup: [] });
    }
    const [echo, control] = echoes as [Responder, Responder];
    // The physical floor: the same echo with no runtime between the socket and the answer, so the
    // table also says how far the agent is from what the broker and the requester allow at all.
    const cTopic = 'bench/echo-c';
    const { hostname, port } = new URL(broker.url);
    const cProc = spawn(cEchoBin, [hostname, port, cTopic], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(cProc);
    await waitForLine(cProc, /ready/, 'stdout');
    const cEcho: Responder = { request: `${cTopic}/post`, answer: cTopic, latencies: [], warmup: [] };
    const base = `$aws/things/${id}`;
    const agentSide: Responder = { request: `${base}/status/post`, answer: `${base}/status`, latencies: [], warmup: [] };
    const sides = [agentSide, echo, control, cEcho];

    const client = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    // The agent and the echo clients (the C one too) all turn Nagle off; so does the requester.
    (client.stream as unknown as { setNoDelay(v: boolean): void }).setNoDelay(true);
    await client.subscribeAsync(sides.map((side) => side.answer), { qos: 1 });
    const requester = new Requester(client);
    // Steady state: a device agent runs for months, so the first few thousand requests, while V8
    // compiles the hot paths of each process, are not counted, for any of them (the C echo too:
    // the broker and the requester warm up as well).
    for (const side of sides) await requester.roundTrips(side, warmup, side.warmup);
    // Short blocks in a random order, so that whatever else the machine does meanwhile weighs on
    // all four alike.
    for (let b = 0; b < requests / blockSize; b++) {
      for (const side of shuffled(sides)) await requester.roundTrips(side, blockSize, side.latencies);
    }
    for (const side of sides) {
      side.latencies.sort((a, b) => a - b);
      side.warmup.sort((a, b) => a - b);
    }
    const agentLat = agentSide.latencies;
    const echoLat = echo.latencies;
    const controlLat = control.latencies;
    const cLat = cEcho.latencies;
    await client.endAsync();
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
    const cP50 = percentile(cLat, 50);
    const cP99 = percentile(cLat, 99);
    return [
      { name: `status round trip p50 (${requests} requests after ${warmup} uncounted)`, value: p50, unit: 'ms' },
      { name: 'status round trip p99', value: p99, unit: 'ms', target: '<= 5 ms', met: p99 <= 5 },
      { name: 'bare MQTT.js echo p50', value: echoP50, unit: 'ms' },
      { name: 'bare MQTT.js echo p99', value: echoP99, unit: 'ms' },
      { name: 'p50 ratio agent / bare echo', value: p50 / echoP50, unit: 'x', target: '<= 1.3', met: p50 / echoP50 <= 1.3 },
      { name: 'p99 ratio agent / bare echo', value: p99 / echoP99, unit: 'x', target: '<= 1.3', met: p99 / echoP99 <= 1.3 },
      { name: 'C libmosquitto echo p50 (physical floor)', value: cP50, unit: 'ms' },
      { name: 'C libmosquitto echo p99', value: cP99, unit: 'ms' },
      { name: 'p50 ratio agent / C echo', value: p50 / cP50, unit: 'x' },
      { name: 'p99 ratio agent / C echo', value: p99 / cP99, unit: 'x' },
      { name: 'p50 ratio bare echo / C echo', value: echoP50 / cP50, unit: 'x' },
      { name: 'p99 ratio bare echo / C echo', value: echoP99 / cP99, unit: 'x' },
      { name: `cold: agent p99 over the first ${warmup} requests`, value: percentile(agentSide.warmup, 99), unit: 'ms' },
      { name: `cold: bare echo p99 over its first ${warmup} requests`, value: percentile(echo.warmup, 99), unit: 'ms' },
      { name: 'control: p50 ratio second echo / echo (noise floor)', value: percentile(controlLat, 50) / echoP50, unit: 'x' },
      { name: 'control: p99 ratio second echo / echo (noise floor)', value: percentile(controlLat, 99) / echoP99, unit: 'x' },
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
