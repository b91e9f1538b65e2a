// Issue 3's benchmark. Output: a program printing ~48 MB through the agent to an MQTT subscriber,
// against the same program read straight from a pseudo-terminal in this process; every byte is
// checked (sha-256). Upload: a 100 MB signed sketch through `upload`, against `curl` + `openssl
// dgst -verify` of the same file from the same server. The agent runs compiled (dist/) in its own
// process, whose peak RSS is read from /proc (VmHWM, reset through clear_refs before each run).

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mqtt, { type MqttClient } from 'mqtt';
import { SketchProcess } from '../src/sketches/process.js';
import { startHttpServer } from '../test/helpers/http-server.js';
import { startMosquitto } from '../test/helpers/mosquitto.js';
import { makeKeyPair, signFile } from '../test/helpers/signing.js';
import { tempDir } from '../test/helpers/tmp.js';
import { agentNodeArgs } from './agent.js';
import type { BenchResult } from './types.js';

const run = promisify(execFile);
// 480,000 lines of 101 bytes once the terminal made "\n" "\r\n": 48.5 MB, about 740 messages of
// 64 KiB, so the run stays inside the 1,000 messages a day the rate limit lets through at once.
const lines = Number(process.env.BENCH_SKETCH_LINES ?? 480_000);
const uploadBytes = Number(process.env.BENCH_UPLOAD_MB ?? 100) * 1024 * 1024;
const rounds = 3;

const printer = `#include <stdio.h>
static char buffer[65536];
int main(void) {
  setvbuf(stdout, buffer, _IOFBF, sizeof buffer);
  for (long i = 0; i < ${lines}; i++) printf("%099ld\\n", i);
  return 0;
}
`;

function expectedOutputHash(): string {
  const hash = createHash('sha256');
  for (let i = 0; i < lines; i++) hash.update(`${String(i).padStart(99, '0')}\r\n`);
  return hash.digest('hex');
}

async function procStatusKb(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
}

/** RSS now, after resetting the peak so VmHWM measures only what follows. */
async function resetPeak(pid: number): Promise<number> {
  await writeFile(`/proc/${pid}/clear_refs`, '5');
  return procStatusKb(pid, 'VmRSS');
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

function waitForAnswer(client: MqttClient, topic: string): Promise<string> {
  return new Promise((resolveAnswer) => {
    const onMessage = (t: string, payload: Buffer) => {
      if (t !== topic) return;
      client.off('message', onMessage);
      resolveAnswer(payload.toString());
    };
    client.on('message', onMessage);
  });
}

async function startAgent(dir: string, brokerUrl: string, id: string, publicKeyPath: string): Promise<ChildProcess> {
  const cfg = join(dir, `${id}.cfg`);
  const data = join(dir, id);
  await mkdir(data);
  await writeFile(cfg, [`id=${id}`, `url=${brokerUrl}`, `sketches_path=${data}`, `drop_folder=${data}/drop`, 'cert_path=', `log_level=${process.env.BENCH_AGENT_LOG ?? 'warn'}`, `signature_key=${publicKeyPath}`, 'nats_port=0', ''].join('\n'));
  const agent = spawn(process.execPath, agentNodeArgs(['-config', cfg]), { stdio: ['ignore', 'ignore', 'pipe'] });
  agent.stderr?.on('data', (d: Buffer) => process.stderr.write(`agent: ${d.toString()}`));
  return agent;
}

async function waitForServing(client: MqttClient, base: string, agent: ChildProcess): Promise<void> {
  await client.subscribeAsync(`${base}/status`, { qos: 1 });
  for (;;) {
    if (agent.exitCode !== null) throw new Error('the agent exited');
    const answer = waitForAnswer(client, `${base}/status`);
    await client.publishAsync(`${base}/status/post`, '{}', { qos: 1 });
    const got = await Promise.race([answer, new Promise<undefined>((r) => setTimeout(() => r(undefined), 300))]);
    if (got?.startsWith('INFO:')) return;
  }
}

async function rawPtyThroughput(file: string, cwd: string): Promise<{ mbPerS: number; bytes: number }> {
  const started = process.hrtime.bigint();
  const sketch = SketchProcess.start({ file, cwd, env: { PATH: '/usr/bin:/bin' } });
  let bytes = 0;
  sketch.onOutput((chunk) => void (bytes += chunk.length));
  await sketch.exited;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { mbPerS: bytes / 1e6 / seconds, bytes };
}

export default async function sketchesBench(): Promise<BenchResult[]> {
  const broker = await startMosquitto();
  const dir = await tempDir('ac-bench-sketches-');
  const www = join(dir.path, 'www');
  await mkdir(www);
  const server = await startHttpServer({ folder: www });
  const children: ChildProcess[] = [];
  try {
    const keys = await makeKeyPair(dir.path);
    await writeFile(join(dir.path, 'printer.c'), printer);
    await run('gcc', ['-O2', '-o', join(www, 'printer'), join(dir.path, 'printer.c')]);
    await signFile(keys.privateKeyPath, join(www, 'printer'));
    const expectedHash = expectedOutputHash();
    const expectedBytes = lines * 101;

    // ---- output ----------------------------------------------------------------------------
    const raw: number[] = [];
    const through: number[] = [];
    const lost: number[] = [];
    const outputRss: number[] = [];
    for (let round = 0; round < rounds; round++) {
      process.stderr.write(`bench: sketches: output round ${round + 1}/${rounds}\n`);
      raw.push((await rawPtyThroughput(join(www, 'printer'), dir.path)).mbPerS);
      // A fresh agent each round: the rate limit counts messages per day and per agent.
      const id = `bench-out-${round}`;
      const base = `$aws/things/${id}`;
      const agent = await startAgent(dir.path, broker.url, id, keys.publicKeyPath);
      children.push(agent);
      const client = await mqtt.connectAsync(broker.url);
      await waitForServing(client, base, agent);
      const hash = createHash('sha256');
      let bytes = 0;
      let done: () => void = () => {};
      const complete = new Promise<void>((r) => (done = r));
      client.on('message', (topic, payload) => {
        if (topic !== `${base}/sketches/printer/stdout`) return;
        hash.update(payload);
        bytes += payload.length;
        if (bytes >= expectedBytes) done();
      });
      await client.subscribeAsync(`${base}/sketches/printer/stdout`, { qos: 1 });
      await client.subscribeAsync(`${base}/upload`, { qos: 1 });
      const baseline = await resetPeak(agent.pid!);
      const started = process.hrtime.bigint();
      const answer = waitForAnswer(client, `${base}/upload`);
      await client.publishAsync(`${base}/upload/post`, JSON.stringify({ id: 'printer', name: 'printer', url: server.url('/printer') }), { qos: 1 });
      const reply = await answer;
      if (!reply.startsWith('INFO:')) throw new Error(`upload failed: ${reply}`);
      await Promise.race([complete, new Promise((r) => setTimeout(r, 120_000))]);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const peak = await procStatusKb(agent.pid!, 'VmHWM');
      through.push(bytes / 1e6 / seconds);
      lost.push(bytes === expectedBytes && hash.digest('hex') === expectedHash ? 0 : Math.max(1, expectedBytes - bytes));
      outputRss.push((peak - baseline) / 1024);
      await client.endAsync();
      // The next round measures one agent alone, not beside this one's shutdown.
      const exited = once(agent, 'exit');
      agent.kill('SIGTERM');
      await exited;
    }

    // ---- upload ----------------------------------------------------------------------------
    // A real (quiet) executable with 100 MB of random bytes after it (the loader ignores them).
    const big = join(www, 'big');
    await writeFile(join(dir.path, 'idle.c'), '#include <unistd.h>\nint main(void) { for (;;) pause(); }\n');
    await run('gcc', ['-O2', '-o', big, join(dir.path, 'idle.c')]);
    for (let written = 0; written < uploadBytes; written += 8 * 1024 * 1024) await appendFile(big, randomBytes(8 * 1024 * 1024));
    await signFile(keys.privateKeyPath, big);
    const id = 'bench-upload';
    const base = `$aws/things/${id}`;
    const agent = await startAgent(dir.path, broker.url, id, keys.publicKeyPath);
    children.push(agent);
    const client = await mqtt.connectAsync(broker.url);
    await waitForServing(client, base, agent);
    await client.subscribeAsync(`${base}/upload`, { qos: 1 });
    const uploadTimes: number[] = [];
    const uploadRss: number[] = [];
    const curlTimes: number[] = [];
    const fetched = join(dir.path, 'fetched');
    for (let round = 0; round < rounds; round++) {
      process.stderr.write(`bench: sketches: upload round ${round + 1}/${rounds}\n`);
      // Each side starts with no dirty pages of the other's file waiting for the disk: the
      // agent's fsync would otherwise also wait for what curl wrote just before.
      await run('sync', []);
      const baseline = await resetPeak(agent.pid!);
      const started = process.hrtime.bigint();
      const answer = waitForAnswer(client, `${base}/upload`);
      await client.publishAsync(`${base}/upload/post`, JSON.stringify({ id: 'big', name: 'big', url: server.url('/big') }), { qos: 1 });
      const reply = await answer;
      uploadTimes.push(Number(process.hrtime.bigint() - started) / 1e9);
      if (!reply.startsWith('INFO:')) throw new Error(`upload failed: ${reply}`);
      uploadRss.push(((await procStatusKb(agent.pid!, 'VmHWM')) - baseline) / 1024);

      await run('sync', []);
      const curlStarted = process.hrtime.bigint();
      await run('curl', ['-sSf', '-o', fetched, server.url('/big')]);
      await run('curl', ['-sSf', '-o', `${fetched}.sig`, server.url('/big.sig')]);
      await run('openssl', ['dgst', '-sha256', '-verify', keys.publicKeyPath, '-signature', `${fetched}.sig`, fetched]);
      curlTimes.push(Number(process.hrtime.bigint() - curlStarted) / 1e9);
    }
    await client.endAsync();
    process.stderr.write(`bench: sketches: upload rounds ${uploadTimes.map((t) => t.toFixed(3)).join(', ')} s; curl+openssl ${curlTimes.map((t) => t.toFixed(3)).join(', ')} s; RSS growth ${uploadRss.map((r) => r.toFixed(1)).join(', ')} MiB; output RSS growth ${outputRss.map((r) => r.toFixed(1)).join(', ')} MiB\n`);

    const rawMb = median(raw);
    const outMb = median(through);
    const uploadS = median(uploadTimes);
    const curlS = median(curlTimes);
    const lostMax = Math.max(...lost);
    const outRss = Math.max(...outputRss);
    const firstUpRss = uploadRss[0]!;
    const laterUpRss = Math.max(...uploadRss.slice(1));
    return [
      { name: `raw pty throughput, same program (${(expectedBytes / 1e6).toFixed(1)} MB, median of ${rounds})`, value: rawMb, unit: 'MB/s' },
      { name: 'sketch output to an MQTT subscriber', value: outMb, unit: 'MB/s' },
      { name: 'output / raw pty', value: (outMb / rawMb) * 100, unit: '%', target: '>= 50 %', met: outMb / rawMb >= 0.5 },
      { name: 'output bytes lost (worst round)', value: lostMax, unit: 'bytes', target: '0', met: lostMax === 0 },
      { name: 'agent peak RSS growth during output (worst round)', value: outRss, unit: 'MiB', target: '< 30 MB', met: outRss * 1.048576 < 30 },
      { name: `upload of a ${uploadBytes / 1024 / 1024} MiB sketch (download, verify, start)`, value: uploadS, unit: 's' },
      { name: 'curl + curl .sig + openssl dgst -verify, same file', value: curlS, unit: 's' },
      { name: 'upload / curl+openssl', value: uploadS / curlS, unit: 'x', target: '<= 1.3', met: uploadS / curlS <= 1.3 },
      // The first download of a fresh agent leaves its network buffers to V8's external-memory
      // collection, which waits for tens of MB; later downloads reuse that memory.
      { name: 'agent peak RSS growth, first upload after start', value: firstUpRss, unit: 'MiB', target: '< 20 MB', met: firstUpRss * 1.048576 < 20 },
      { name: 'agent peak RSS growth, later uploads (worst)', value: laterUpRss, unit: 'MiB', target: '< 20 MB', met: laterUpRss * 1.048576 < 20 },
    ];
  } finally {
    for (const child of children) child.kill('SIGKILL');
    await server.close();
    await broker.close();
    await dir.remove();
  }
}
