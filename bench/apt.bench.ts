// apt/list {"search":"lib"} (first, i.e. with an empty cache, and cached) and apt/get, over a real
// mosquitto against this machine's dpkg and apt, beside the raw `dpkg-query -W` +
// `apt-cache search --names-only lib` that a search without a cache would at least cost.
// Targets (issue 4): cached search <= 50 ms; first search <= 1.5 x the raw commands.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { PackageIndex } from '../src/system/apt-cache.js';
import { startTestAgent } from '../test/helpers/agent.js';
import { startMosquitto } from '../test/helpers/mosquitto.js';
import type { BenchResult } from './types.js';

const run = promisify(execFile);
const rounds = Number(process.env.BENCH_APT_ROUNDS ?? 5);
const cachedCalls = Number(process.env.BENCH_APT_CALLS ?? 100);

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
};

async function timed(work: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export default async function aptBench(): Promise<BenchResult[]> {
  const raw: number[] = [];
  for (let i = 0; i < rounds; i++) {
    raw.push(
      await timed(async () => {
        await run('dpkg-query', ['-W'], { maxBuffer: 64 * 1024 * 1024 });
        await run('apt-cache', ['search', '--names-only', 'lib'], { maxBuffer: 64 * 1024 * 1024 });
      }),
    );
  }

  const broker = await startMosquitto();
  // The agent's own apt feature, given an index the bench can empty between rounds.
  const index = new PackageIndex();
  const t = await startTestAgent(broker.url, { log_level: 'warn' }, { featureOptions: { apt: { index } } });
  try {
    const call = async (command: 'apt/list' | 'apt/get', request: object) => {
      const reply = await t.client.callRaw(command, JSON.stringify(request), 60_000);
      if (!reply.ok) throw new Error(`${command} failed: ${reply.message}`);
    };
    const first: number[] = [];
    for (let i = 0; i < rounds; i++) {
      index.invalidate();
      first.push(await timed(() => call('apt/list', { search: 'lib' })));
    }
    // status while the table is first built, against status alone (the same agent, the same run):
    // the build must not hold other requests up (issue 10).
    const statusAlone: number[] = [];
    while (statusAlone.length < 2000) statusAlone.push(await timed(() => t.client.callRaw('status', '{}', 10_000)));
    const statusDuringBuild: number[] = [];
    for (let i = 0; i < rounds; i++) {
      index.invalidate();
      let built = false;
      const build = call('apt/list', { search: 'lib' }).then(() => (built = true));
      while (!built) statusDuringBuild.push(await timed(() => t.client.callRaw('status', '{}', 10_000)));
      await build;
    }
    const cached: number[] = [];
    for (let i = 0; i < cachedCalls; i++) cached.push(await timed(() => call('apt/list', { search: 'lib', page: i % 10 })));
    const get: number[] = [];
    for (let i = 0; i < cachedCalls; i++) get.push(await timed(() => call('apt/get', { package: i % 2 ? 'bash' : 'zsh' })));

    const rawMs = median(raw);
    const firstMs = median(first);
    const cachedP50 = percentile(cached, 50);
    const cachedP99 = percentile(cached, 99);
    return [
      { name: 'raw dpkg-query -W + apt-cache search --names-only lib (median)', value: rawMs, unit: 'ms' },
      { name: 'apt/list search "lib", first (empty cache, median)', value: firstMs, unit: 'ms' },
      { name: 'apt/list first / raw', value: firstMs / rawMs, unit: 'x', target: '<= 1.5', met: firstMs / rawMs <= 1.5 },
      { name: 'apt/list search "lib", cached p50', value: cachedP50, unit: 'ms', target: '<= 50 ms', met: cachedP50 <= 50 },
      { name: 'apt/list search "lib", cached p99', value: cachedP99, unit: 'ms', target: '<= 50 ms', met: cachedP99 <= 50 },
      { name: `status alone p99 (${statusAlone.length} requests)`, value: percentile(statusAlone, 99), unit: 'ms' },
      { name: `status while the table is first built p99 (${statusDuringBuild.length} requests)`, value: percentile(statusDuringBuild, 99), unit: 'ms' },
      { name: 'status while the table is first built, max', value: Math.max(...statusDuringBuild), unit: 'ms' },
      { name: 'status p99 ratio during build / alone', value: percentile(statusDuringBuild, 99) / percentile(statusAlone, 99), unit: 'x' },
      { name: 'apt/get (cached) p50', value: percentile(get, 50), unit: 'ms' },
      { name: 'apt/get (cached) p99', value: percentile(get, 99), unit: 'ms' },
    ];
  } finally {
    await t.stop();
    await broker.close();
  }
}
