// The broker goes away for a while with a sketch printing a numbered line every 10 ms: how long
// after the broker is back the agent answers again, and how many of the lines printed meanwhile
// never reached a subscriber.

import mqtt from 'mqtt';
import type { ChaosWorld } from './world.js';
import { printerSketch } from './world.js';

export interface OutageResult {
  outageSeconds: number;
  /** From the broker listening again to the first answer to `status`. */
  answerAfterReturnMs: number;
  /** Lines the sketch printed between the first and the last line received. */
  linesPrinted: number;
  linesLost: number;
}

export async function brokerOutage(world: ChaosWorld, outageSeconds: number): Promise<OutageResult> {
  const id = 'chaos-printer';
  await world.publishSketch('printer', printerSketch);
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
    await world.broker.stop();
    await new Promise((r) => setTimeout(r, outageSeconds * 1000));
    await world.broker.start();
    const back = performance.now();
    while ((await world.call('status', '{}', 200)) === undefined) {
      // The requester reconnects too (every 100 ms); the figure includes that much of it.
    }
    const answerAfterReturnMs = performance.now() - back;
    // Let what the agent kept (if anything) arrive, then count what is missing.
    await new Promise((r) => setTimeout(r, 5000));
    await world.call('sketch', JSON.stringify({ id, action: 'STOP' }), 10_000);
    const numbers = [...seen];
    const first = Math.min(...numbers);
    const last = Math.max(...numbers);
    return { outageSeconds, answerAfterReturnMs, linesPrinted: last - first + 1, linesLost: last - first + 1 - seen.size };
  } finally {
    await listener.endAsync(true);
  }
}
