// Sustained mixed load: several clients, each sending its next request as soon as the previous one
// is answered, over reads of every family (status, stats, packages, sketches, containers).

import { Caller, type ChaosWorld } from './world.js';
import { pick, seededRandom } from './random.js';

export interface LoadResult {
  clients: number;
  seconds: number;
  requests: number;
  /** Requests without an answer within 10 s. */
  unanswered: number;
  p50Ms: number;
  p99Ms: number;
}

const mix: [string, string][] = [
  ['status', '{}'],
  ['status', '{}'],
  ['stats', '{}'],
  ['apt/get', '{"package":"bash"}'],
  ['apt/list', '{"search":"lib","page":3}'],
  ['apt/list', '{}'],
  ['apt/repos/list', '{}'],
  ['containers/ps', '{}'],
  ['sketch', '{"id":"chaos-none","action":"STOP"}'],
  ['upload', '{"id":"chaos-none","name":"chaos-none","url":"http://127.0.0.1:1/x"}'],
];

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

export async function sustainedLoad(world: ChaosWorld, clients: number, seconds: number, seed: number): Promise<LoadResult> {
  const latencies: number[] = [];
  let unanswered = 0;
  const callers = await Promise.all(Array.from({ length: clients }, () => Caller.connect(world.broker.url, world.base)));
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    callers.map(async (caller, index) => {
      const random = seededRandom(seed + index);
      while (performance.now() < end) {
        const [command, payload] = pick(random, mix);
        const t0 = performance.now();
        const answer = await caller.call(command, payload, 10_000);
        if (answer === undefined) unanswered++;
        else latencies.push(performance.now() - t0);
      }
    }),
  );
  await Promise.all(callers.map((caller) => caller.close()));
  latencies.sort((a, b) => a - b);
  return { clients, seconds, requests: latencies.length + unanswered, unanswered, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99) };
}
