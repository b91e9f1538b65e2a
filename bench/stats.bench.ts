// How long a `stats` reading takes inside the agent: memory and disks alone (no D-Bus), and with
// NetworkManager's API (dbusmock on a private bus, one Ethernet and one Wi-Fi device with access
// points), which costs a fresh D-Bus connection per reading. No targets: figures to watch.

import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { StatsFeature } from '../src/commands/stats.js';
import { silentLogger } from '../src/log.js';
import { MemoryBroker } from '../src/mqtt/memory-bus.js';
import { WritableMount } from '../src/system/ro-fs.js';
import { AP_SEC_KEY_MGMT_PSK, DeviceState, startDbusDaemon, startNetworkManagerMock } from '../test/helpers/dbusmock.js';
import type { BenchResult } from './types.js';

const readings = Number(process.env.BENCH_STATS_READINGS ?? 200);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function time(stats: StatsFeature, count: number): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = process.hrtime.bigint();
    await stats.stats();
    latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return latencies.sort((a, b) => a - b);
}

/** A feature built as the agent builds it, called directly (no broker needed). */
function statsFeature(systemBusAddress: string): StatsFeature {
  const deps = { bus: new MemoryBroker().client(), base: 'bench', log: silentLogger, writable: new WritableMount({ enabled: false }) };
  return new StatsFeature(deps, { systemBusAddress });
}

export default async function statsBench(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const nowhere = statsFeature(`unix:path=${join(tmpdir(), `ac-bench-no-bus-${process.pid}`, 'bus')}`);
  const alone = await time(nowhere, readings);
  results.push({ name: 'stats without D-Bus p50', value: percentile(alone, 50), unit: 'ms' });
  results.push({ name: 'stats without D-Bus p99', value: percentile(alone, 99), unit: 'ms' });

  const bus = await startDbusDaemon();
  const nm = await startNetworkManagerMock(bus);
  try {
    await nm.addEthernetDevice('eth0', 'eth0', DeviceState.ACTIVATED);
    const wlan = await nm.addWiFiDevice('wlan0', 'wlan0', DeviceState.ACTIVATED);
    for (let i = 0; i < 10; i++) {
      const hw = `02:00:00:00:00:${i.toString(16).padStart(2, '0')}`;
      await nm.addAccessPoint(wlan, `ap${i}`, { ssid: `net-${i}`, hwAddress: hw, mode: 2, frequency: 2412, maxBitrate: 54000, strength: 50, security: AP_SEC_KEY_MGMT_PSK });
    }
    await nm.addWiFiConnection(wlan, 'conn0', 'net-0');
    const withNm = await time(statsFeature(bus.address), readings);
    results.push({ name: 'stats with NetworkManager (2 devices, 10 APs) p50', value: percentile(withNm, 50), unit: 'ms' });
    results.push({ name: 'stats with NetworkManager (2 devices, 10 APs) p99', value: percentile(withNm, 99), unit: 'ms' });
  } finally {
    await nm.stop();
    await bus.close();
  }
  return results;
}
