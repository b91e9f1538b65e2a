// `stats`: memory, disks and NetworkManager's view of the network. Memory and disks come from
// the kernel and always answer; the network part degrades alone (null, with the reason in
// `errors.network` and in the log) when D-Bus or NetworkManager is missing or hangs.

import type { DiskStats, MemoryStats, NetworkStats, StatsBody } from '../api.js';
import { FailedError } from '../errors.js';
import type { AgentContext } from '../legacy-features.js';
import { errorMessage } from '../log.js';
import { DiskReader, type DiskUsage } from '../system/disks.js';
import { readMeminfo, type MemoryReading } from '../system/meminfo.js';
import { DEFAULT_NETWORK_TIMEOUT_MS, readNetwork } from '../system/network-manager.js';
import { toWireNetwork } from './stats-network.js';

export interface StatsOptions {
  /** The D-Bus address where NetworkManager is asked; default: the system bus (which honours
   * DBUS_SYSTEM_BUS_ADDRESS). */
  systemBusAddress?: string;
  /** How long NetworkManager may take before the answer goes without the network part. */
  networkTimeoutMs?: number;
  /** How long one file system's statfs may take before the answer goes without it (default 2 s). */
  statfsTimeoutMs?: number;
}

type NetworkResult = { ok: true; stats: NetworkStats } | { ok: false; reason: string };

export class StatsCommands {
  readonly name = 'stats';
  /** Requests that arrive while a reading runs share it rather than each opening D-Bus. */
  private inFlight: Promise<StatsBody> | undefined;
  private lastNetworkProblem: string | undefined;

  /** One reader for the feature's life: it remembers mounts whose statfs hangs. */
  private readonly disks: DiskReader;

  constructor(private readonly context: Pick<AgentContext, 'router' | 'log'>, private readonly options: StatsOptions = {}) {
    this.disks = new DiskReader({
      statfsTimeoutMs: options.statfsTimeoutMs,
      onSkipped: (mountPoint, reason) => context.log.debug(`disk ${mountPoint} left out: ${reason}`),
    });
  }

  async start(): Promise<void> {
    this.context.router.register('stats', () => this.collect());
  }

  async stop(): Promise<void> {}

  collect(): Promise<StatsBody> {
    this.inFlight ??= this.read().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async read(): Promise<StatsBody> {
    const [memory, disk, network] = await Promise.all([
      readMeminfo().then(toWireMemory, (err: unknown) => {
        throw new FailedError(`memory figures unavailable: ${errorMessage(err)}`, { cause: err });
      }),
      this.disks.read().then((disks) => disks.map(toWireDisk), (err: unknown) => {
        throw new FailedError(`disk figures unavailable: ${errorMessage(err)}`, { cause: err });
      }),
      this.readNetwork(),
    ]);
    if (network.ok) return { memory, disk, network: network.stats };
    return { memory, disk, network: null, errors: { network: network.reason } };
  }

  private async readNetwork(): Promise<NetworkResult> {
    const { log } = this.context;
    try {
      const reading = await readNetwork({
        busAddress: this.options.systemBusAddress,
        timeoutMs: this.options.networkTimeoutMs ?? DEFAULT_NETWORK_TIMEOUT_MS,
        log,
      });
      if (this.lastNetworkProblem !== undefined) log.info('NetworkManager answers again');
      this.lastNetworkProblem = undefined;
      return { ok: true, stats: toWireNetwork(reading) };
    } catch (err) {
      const reason = errorMessage(err);
      // Said once per cause, so polling stats on a machine without NetworkManager stays quiet.
      if (reason !== this.lastNetworkProblem) log.warn(`stats without network: ${reason}`);
      else log.debug(`stats without network: ${reason}`);
      this.lastNetworkProblem = reason;
      return { ok: false, reason };
    }
  }
}

/** The Go agent's names for the figures of /proc/meminfo (all in kB). */
function toWireMemory(m: MemoryReading): MemoryStats {
  return {
    FreeMem: m.freeKiB,
    TotalMem: m.totalKiB,
    AvailableMem: m.availableKiB,
    Buffers: m.buffersKiB,
    Cached: m.cachedKiB,
    FreeSwapMem: m.swapFreeKiB,
    TotalSwapMem: m.swapTotalKiB,
  };
}

function toWireDisk(d: DiskUsage): DiskStats {
  return {
    Device: d.device,
    Type: d.type,
    MountPoint: d.mountPoint,
    FreeSpace: d.freeBytes,
    AvailableSpace: d.availableBytes,
    DiskSize: d.sizeBytes,
  };
}
