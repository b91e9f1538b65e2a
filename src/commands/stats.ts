// stats: memory, disks and NetworkManager's view of the network. Memory and disks come from the
// kernel; without them the family is unavailable. The network part degrades alone (null, with the
// reason in `errors.network` and in the log) when D-Bus or NetworkManager is missing or hangs.

import type { AnswerOf, DiskStats, MemoryStats, NetworkStats, StatsBody } from '../api.js';
import { UnavailableError } from '../errors.js';
import { Feature, type CommandTable } from '../feature.js';
import { errorMessage } from '../log.js';
import { DiskReader, type DiskUsage } from '../system/disks.js';
import { readMeminfo, type MemoryReading } from '../system/meminfo.js';
import { busNameHasOwner } from '../system/dbus-name.js';
import { DEFAULT_NETWORK_TIMEOUT_MS, readNetwork } from '../system/network-manager.js';
import { toWireNetwork } from './stats-network.js';

/** B/<command>/post → the method of StatsFeature that answers it. */
export const statsCommands = {
  stats: 'stats',
} as const satisfies CommandTable<'stats', StatsFeature>;

export interface StatsOptions {
  /** Where the memory figures are read (default /proc/meminfo). */
  meminfoPath?: string;
  /** The D-Bus address where NetworkManager is asked; default: the system bus (which honours
   * DBUS_SYSTEM_BUS_ADDRESS). */
  systemBusAddress?: string;
  /** How long NetworkManager may take before the answer goes without the network part. */
  networkTimeoutMs?: number;
  /** How long one file system's statfs may take before the answer goes without it (default 2 s). */
  statfsTimeoutMs?: number;
}

type NetworkResult = { ok: true; stats: NetworkStats } | { ok: false; reason: string };

export class StatsFeature extends Feature<StatsOptions> {
  readonly name = 'stats';
  /** Requests that arrive while a reading runs share it rather than each opening D-Bus. */
  private inFlight: Promise<StatsBody> | undefined;
  private lastNetworkProblem: string | undefined;
  /** One reader for the feature's life: it remembers mounts whose statfs hangs. */
  private readonly disks = new DiskReader({
    statfsTimeoutMs: this.options.statfsTimeoutMs,
    onSkipped: (mountPoint, reason) => this.deps.log.debug(`disk ${mountPoint} left out: ${reason}`),
  });

  /** Whether NetworkManager is on the bus now (for status's optional parts). */
  networkManagerPresent(timeoutMs?: number): Promise<boolean> {
    return busNameHasOwner('org.freedesktop.NetworkManager', { busAddress: this.options.systemBusAddress, timeoutMs, log: this.deps.log });
  }

  stats(): Promise<AnswerOf<'stats'>> {
    this.inFlight ??= this.read().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async read(): Promise<StatsBody> {
    const [memory, disk, network] = await Promise.all([
      readMeminfo(this.options.meminfoPath).then(toWireMemory, (err: unknown) => {
        throw new UnavailableError(`cannot read the memory figures: ${errorMessage(err)}`, { cause: err });
      }),
      this.disks.read().then((disks) => disks.map(toWireDisk), (err: unknown) => {
        throw new UnavailableError(`cannot read the disk figures: ${errorMessage(err)}`, { cause: err });
      }),
      this.readNetwork(),
    ]);
    if (network.ok) return { memory, disk, network: network.stats };
    return { memory, disk, network: null, errors: { network: network.reason } };
  }

  private async readNetwork(): Promise<NetworkResult> {
    const { log } = this.deps;
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
