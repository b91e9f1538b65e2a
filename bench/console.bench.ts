// The web console (issue 14): the first page's weight, and how long a fresh page takes to list a
// fleet of 1,000 devices that announce retained presence and heartbeats (a load generator) plus
// three real agents, on a real mosquitto with a WebSocket listener, in Debian's chromium.

import { join } from 'node:path';
import mqtt from 'mqtt';
import { startConsoleServer } from '../src/console/server.js';
import { startTestAgent, type TestAgent } from '../test/helpers/agent.js';
import { buildConsole, firstPageGzipBytes, launchChromium } from '../test/helpers/console.js';
import { startMosquitto } from '../test/helpers/mosquitto.js';
import { freePort } from '../test/helpers/net.js';
import { tempDir } from '../test/helpers/tmp.js';
import type { BenchResult } from './types.js';

const DEVICES = Number(process.env.BENCH_CONSOLE_DEVICES ?? 1000);
const RUNS = Number(process.env.BENCH_CONSOLE_RUNS ?? 5);

/** Publishes each simulated device's retained presence, then a heartbeat for each every 15 s. */
async function loadGenerator(brokerUrl: string, count: number) {
  const client = await mqtt.connectAsync(brokerUrl, { protocolVersion: 5 });
  const ids = Array.from({ length: count }, (_, i) => `sim-${String(i).padStart(4, '0')}`);
  const since = new Date().toISOString();
  await Promise.all(
    ids.map((id) =>
      client.publishAsync(`$aws/things/${id}/presence`, JSON.stringify({ state: 'online', version: '0.1.0', host: `host-${id}`, since }), { qos: 1, retain: true }),
    ),
  );
  const beat = () => ids.forEach((id, i) => client.publish(`$aws/things/${id}/heartbeat`, `INFO: ${(1000 + i).toFixed(2)}\n`, { qos: 0 }));
  beat();
  const timer = setInterval(beat, 15_000);
  return {
    close: async () => {
      clearInterval(timer);
      // Retained presence would outlive the run in a persistent broker: cleared.
      await Promise.all(ids.map((id) => client.publishAsync(`$aws/things/${id}/presence`, '', { qos: 1, retain: true })));
      await client.endAsync();
    },
  };
}

export default async function consoleBench(): Promise<BenchResult[]> {
  const work = await tempDir('ac-bench-console-');
  const app = join(work.path, 'app');
  const wsPort = await freePort();
  const [broker] = await Promise.all([startMosquitto({ extraConfig: [`listener ${wsPort} 127.0.0.1`, 'protocol websockets'] }), buildConsole(app)]);
  const agents: TestAgent[] = [];
  const results: BenchResult[] = [];
  try {
    const { total } = await firstPageGzipBytes(app);
    results.push({ name: 'first page, gzipped', value: total / 1024, unit: 'KB', target: '<= 250 KB', met: total <= 250 * 1024 });
    for (let i = 0; i < 3; i++) agents.push(await startTestAgent(broker.url, { id: `bench-agent-${i}` }));
    const load = await loadGenerator(broker.url, DEVICES);
    const server = await startConsoleServer({ root: app, port: 0, config: { brokerUrl: `ws://127.0.0.1:${wsPort}`, baseTopic: '$aws/things/{id}', staleAfterSeconds: 45, answerTimeoutSeconds: 60 } });
    const browser = await launchChromium();
    try {
      // The simulated devices announce retained presence, so a fresh page lists them at once; the
      // agents of this branch announce nothing retained and appear with their next heartbeat.
      const listed = new RegExp(`^(${DEVICES}|${DEVICES + 1}|${DEVICES + 2}|${DEVICES + 3}) devices, \\1 online`);
      const times: number[] = [];
      const filterTimes: number[] = [];
      for (let run = 0; run < RUNS; run++) {
        const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
        const start = performance.now();
        await page.goto(server.url);
        await page.getByTestId('fleet-summary').filter({ hasText: listed }).waitFor({ timeout: 60_000 });
        times.push(performance.now() - start);
        // Responsiveness with the whole fleet loaded: a filter typed, the list narrowed.
        const typed = performance.now();
        await page.getByRole('searchbox').fill(`sim-${String(DEVICES - 1).padStart(4, '0')}`);
        await page.getByTestId('fleet-summary').filter({ hasText: /^1 devices/ }).waitFor();
        filterTimes.push(performance.now() - typed);
        await page.close();
      }
      times.sort((a, b) => a - b);
      results.push({ name: `page load to ${DEVICES} devices listed, median of ${RUNS}`, value: times[Math.floor(times.length / 2)]!, unit: 'ms' });
      results.push({ name: `page load to ${DEVICES} devices listed, slowest of ${RUNS}`, value: times.at(-1)!, unit: 'ms' });
      filterTimes.sort((a, b) => a - b);
      results.push({ name: `filter typed to list narrowed, ${DEVICES} devices, median of ${RUNS}`, value: filterTimes[Math.floor(filterTimes.length / 2)]!, unit: 'ms' });
    } finally {
      await browser.close();
      await server.close();
      await load.close();
    }
  } finally {
    for (const a of agents) await a.stop();
    await broker.close();
    await work.remove();
  }
  return results;
}
