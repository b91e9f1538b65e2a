// What -listen costs a device while nothing is written: three agents side by side on one broker,
// one without -listen, one following an idle file it has read (20,000 lines, some of them
// progress), one waiting for a file that does not exist. Over the same window it reads each
// one's CPU time (every thread: the file calls run on libuv's pool), read system calls and RSS.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startMosquitto } from '../test/helpers/mosquitto.js';
import { tempDir } from '../test/helpers/tmp.js';
import { agentNodeArgs, agentReady, root } from './agent.js';
import type { BenchResult } from './types.js';

// A minute after start: V8 has compiled what it will and the idle collector has run, so the
// window sees what a device that runs for months pays.
const settleSeconds = 60;
const windowSeconds = Number(process.env.BENCH_LISTEN_SECONDS ?? 120);

interface Sample {
  cpuNs: number;
  readCalls: number;
}

/** CPU time of every thread of the process (ns, from schedstat) and its read system calls. */
async function sample(pid: number): Promise<Sample> {
  let cpuNs = 0;
  for (const task of await readdir(`/proc/${pid}/task`)) {
    const fields = (await readFile(`/proc/${pid}/task/${task}/schedstat`, 'utf8').catch(() => '0')).split(' ');
    cpuNs += Number(fields[0]);
  }
  const io = await readFile(`/proc/${pid}/io`, 'utf8');
  return { cpuNs, readCalls: Number(/syscr:\s+(\d+)/.exec(io)?.[1] ?? NaN) };
}

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024;
}

export default async function listenBench(): Promise<BenchResult[]> {
  const broker = await startMosquitto();
  const dir = await tempDir('ac-bench-listen-');
  const children: ChildProcess[] = [];
  try {
    // A folder of its own, as on a device: the agents' data folder changes now and then, and each
    // change there would wake the follower's folder watch.
    await mkdir(join(dir.path, 'logs'));
    const file = join(dir.path, 'logs', 'install.log');
    let text = '';
    for (let i = 0; i < 20_000; i++) text += i % 100 === 0 ? `$$$ ${i / 200}%\n` : `unpacking package-${i} (1.0-${i}) ...\n`;
    await writeFile(file, text);
    const start = (name: string, extra: string[]) => {
      const args = ['-id', `bench-listen-${name}`, '-url', broker.url, '-cert_path=', '-sketches_path', dir.path, '-drop_folder', join(dir.path, `drop-${name}`), '-docker_host', join(dir.path, 'no-docker.sock'), '-apt_config_dir', join(dir.path, 'apt'), '-nats_port', '0', '-config', '/dev/null', ...extra];
      const child = spawn(process.execPath, agentNodeArgs(args), { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
      let log = '';
      child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
      children.push(child);
      return { child, log: () => log };
    };
    const plain = start('plain', []);
    const following = start('following', ['-listen', file]);
    const waiting = start('waiting', ['-listen', join(dir.path, 'not-yet', 'install.log')]);
    const ready = (agent: { log(): string }, pattern: RegExp) => agentReady(agent.log, pattern);
    await Promise.all([ready(plain, /connected to/), ready(following, /reading /), ready(waiting, /waiting for /)]);
    process.stderr.write(`bench: listen: ${settleSeconds} s to settle, then ${windowSeconds} s idle...\n`);
    await new Promise((r) => setTimeout(r, settleSeconds * 1000));
    const agents = { plain, following, waiting };
    const before = Object.fromEntries(await Promise.all(Object.entries(agents).map(async ([k, a]) => [k, await sample(a.child.pid as number)] as const)));
    await new Promise((r) => setTimeout(r, windowSeconds * 1000));
    const after = Object.fromEntries(await Promise.all(Object.entries(agents).map(async ([k, a]) => [k, await sample(a.child.pid as number)] as const)));
    const rss = Object.fromEntries(await Promise.all(Object.entries(agents).map(async ([k, a]) => [k, await rssMiB(a.child.pid as number)] as const)));
    const cpuMsPerMin = (k: string) => ((after[k]!.cpuNs - before[k]!.cpuNs) / 1e6) * (60 / windowSeconds);
    const readsPerS = (k: string) => (after[k]!.readCalls - before[k]!.readCalls) / windowSeconds;
    return [
      { name: `idle agent CPU, no -listen (${windowSeconds} s window)`, value: cpuMsPerMin('plain'), unit: 'ms/min' },
      { name: 'idle agent CPU, following an idle file', value: cpuMsPerMin('following'), unit: 'ms/min' },
      { name: 'idle agent CPU, waiting for a missing file', value: cpuMsPerMin('waiting'), unit: 'ms/min' },
      { name: 'read system calls, no -listen', value: readsPerS('plain'), unit: '/s' },
      { name: 'read system calls, following an idle file', value: readsPerS('following'), unit: '/s' },
      { name: 'idle agent RSS, no -listen', value: rss.plain!, unit: 'MiB' },
      { name: 'idle agent RSS, following (after reading 20,000 lines)', value: rss.following!, unit: 'MiB' },
      { name: 'idle agent RSS, waiting for a missing file', value: rss.waiting!, unit: 'MiB' },
    ];
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
    await broker.close();
    await dir.remove();
  }
}
