// The broker goes away for a while with a sketch printing a numbered line every 10 ms: how long
// after the broker is back the agent answers again, how many of the lines printed meanwhile never
// reached a subscriber, how long the agent took to deliver what it kept (issue 13's outbox), and
// its memory meanwhile.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt from 'mqtt';
import type { ChaosWorld } from './world.js';
import { printerSketch } from './world.js';

/** The printer, also keeping its last number in a file of its folder (what it printed by when). */
const outagePrinter = printerSketch.replace('sleep 0.01', 'echo "$i" > outage-last; sleep 0.01');

export interface OutageResult {
  outageSeconds: number;
  /** From the broker listening again to the first answer to `status`. */
  answerAfterReturnMs: number;
  /** Lines the sketch printed between the first and the last line received. */
  linesPrinted: number;
  linesLost: number;
  /** From the broker listening again to every line printed by then received (-1: never). */
  deliveredAfterReturnMs: number;
  /** The agent's RSS before the outage, and its peak from the broker's return to that moment. */
  rssBeforeMiB: number;
  rssPeakMiB: number;
}

export async function brokerOutage(world: ChaosWorld, outageSeconds: number): Promise<OutageResult> {
  const id = 'chaos-printer';
  await world.publishSketch('printer', outagePrinter);
  const seen = new Set<number>();
  const listener = await mqtt.connectAsync(world.broker.url, { protocolVersion: 5, reconnectPeriod: 100, clean: false, clientId: `chaos-listener-${process.pid}`, properties: { sessionExpiryInterval: 3600 } });
  listener.on('message', (_topic, payload) => {
    for (const m of payload.toString('latin1').matchAll(/chaos-line (\d+)/g)) seen.add(Number(m[1]));
  });
  await listener.subscribeAsync(`${world.base}/sketches/${id}/stdout`, { qos: 1 });
  try {
    const started = await world.call('upload', JSON.stringify({ id, name: id, url: world.http.url('/printer') }), 30_000);
    if (!started?.startsWith('INFO:')) throw new Error(`the printer sketch did not start: ${started}`);
    while (seen.size < 100) await new Promise((r) => setTimeout(r, 50));
    const rssBeforeMiB = await world.rssMiB();
    await world.broker.stop();
    await new Promise((r) => setTimeout(r, outageSeconds * 1000));
    const lastFile = join(world.dataDir, 'sketches', 'outage-last');
    let printedByReturn = Number((await readFile(lastFile, 'utf8')).trim());
    // Rewritten every 10 ms: caught empty, read again.
    while (!(printedByReturn > 0)) printedByReturn = Number((await readFile(lastFile, 'utf8')).trim());
    await world.broker.start();
    const back = performance.now();
    let rssPeakMiB = rssBeforeMiB;
    let deliveredAfterReturnMs = -1;
    const first = Math.min(...seen);
    const watch = (async () => {
      while (performance.now() - back < 30_000) {
        rssPeakMiB = Math.max(rssPeakMiB, await world.rssMiB().catch(() => 0));
        let whole = true;
        for (let n = first; n <= printedByReturn && whole; n++) whole = seen.has(n);
        if (whole) {
          deliveredAfterReturnMs = performance.now() - back;
          return;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    while ((await world.call('status', '{}', 200)) === undefined) {
      // The requester reconnects too (every 100 ms); the figure includes that much of it.
    }
    const answerAfterReturnMs = performance.now() - back;
    await watch;
    // Let what the agent kept (if anything) arrive, then count what is missing.
    await new Promise((r) => setTimeout(r, 5000));
    await world.call('sketch', JSON.stringify({ id, action: 'STOP' }), 10_000);
    const last = Math.max(...seen);
    return { outageSeconds, answerAfterReturnMs, linesPrinted: last - first + 1, linesLost: last - first + 1 - seen.size, deliveredAfterReturnMs, rssBeforeMiB, rssPeakMiB };
  } finally {
    await listener.endAsync(true);
  }
}
