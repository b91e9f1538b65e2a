// stats: memory, disks and NetworkManager's view of the network.

import { fixedObject, int, listOf, nullable, num, object, optional, text } from './schema.js';

export const statsRequests = {
  stats: object({}),
};

export interface StatsAnswers {
  stats: StatsBody;
}

export interface MemoryStats {
  FreeMem: number;
  TotalMem: number;
  AvailableMem: number;
  Buffers: number;
  Cached: number;
  FreeSwapMem: number;
  TotalSwapMem: number;
}

export interface DiskStats {
  Device: string;
  Type: string;
  MountPoint: string;
  FreeSpace: number;
  AvailableSpace: number;
  DiskSize: number;
}

/** NetworkManager's view as the Go agent's gonetworkmanager marshalled it: enum values by their
 * Go names (`NmDeviceTypeEthernet`, `NmDeviceStateActivated`, `Nm80211ModeInfra`,
 * `NmStateConnectedGlobal`; a value without a name as `NmDeviceType(40)`). */
export interface AccessPointInfo {
  SSID: string;
  HWAddress: string;
  Flags: number;
  WPAFlags: number;
  RSNFlags: number;
  /** MHz. */
  Frequency: number;
  /** kbit/s. */
  MaxBitrate: number;
  /** Percent. */
  Strength: number;
  Mode: string;
}

export interface IP4ConfigInfo {
  /** Gateway: the configuration's gateway on the first address, "0.0.0.0" on the others. */
  Addresses: { Address: string; Prefix: number; Gateway: string }[];
  Gateway: string;
  Nameservers: string[];
  Domains: string[];
  /** NextHop "0.0.0.0" for a route on the link. */
  Routes: { Route: string; Prefix: number; NextHop: string; Metric: number }[];
}

/** A saved connection profile that can be activated on the device (from its settings, which
 * NetworkManager gives without secrets). */
export interface ConnectionInfo {
  Path: string;
  Id: string;
  Uuid: string;
  Type: string;
}

export interface DeviceInfo {
  /** NetworkManager's D-Bus object path of the device. */
  Path: string;
  Interface: string;
  DeviceType: string;
  State: string;
  HWAddress: string;
  /** null unless the device has an IPv4 configuration (it is activated). */
  IP4Config: IP4ConfigInfo | null;
  /** Visible access points of a Wi-Fi device; null for other devices. */
  AccessPoints: AccessPointInfo[] | null;
  AvailableConnections: ConnectionInfo[];
}

export interface NetworkStats {
  Devices: DeviceInfo[];
  /** NetworkManager's global state. */
  Status: string;
}

export interface StatsBody {
  memory: MemoryStats;
  disk: DiskStats[];
  /** NetworkManager's view; null when it cannot be read (the reason is in `errors.network`). */
  network: NetworkStats | null;
  errors?: { network?: string };
}

/** Built on first use (see aptAnswerSchemas). */
export function statsAnswerSchemas() {
  const memorySchema = fixedObject({
    FreeMem: num(),
    TotalMem: num(),
    AvailableMem: num(),
    Buffers: num(),
    Cached: num(),
    FreeSwapMem: num(),
    TotalSwapMem: num(),
  });

  const diskSchema = fixedObject({
    Device: text(),
    Type: text(),
    MountPoint: text(),
    FreeSpace: num(),
    AvailableSpace: num(),
    DiskSize: num(),
  });

  const accessPointSchema = fixedObject({
    SSID: text(),
    HWAddress: text(),
    Flags: int(),
    WPAFlags: int(),
    RSNFlags: int(),
    Frequency: num(),
    MaxBitrate: num(),
    Strength: num(),
    Mode: text(),
  });

  const ip4ConfigSchema = fixedObject({
    Addresses: listOf(fixedObject({ Address: text(), Prefix: int(), Gateway: text() })),
    Gateway: text(),
    Nameservers: listOf(text()),
    Domains: listOf(text()),
    Routes: listOf(fixedObject({ Route: text(), Prefix: int(), NextHop: text(), Metric: int() })),
  });

  const deviceSchema = fixedObject({
    Path: text(),
    Interface: text(),
    DeviceType: text(),
    State: text(),
    HWAddress: text(),
    IP4Config: nullable(ip4ConfigSchema),
    AccessPoints: nullable(listOf(accessPointSchema)),
    AvailableConnections: listOf(fixedObject({ Path: text(), Id: text(), Uuid: text(), Type: text() })),
  });

  return {
    stats: fixedObject({
      memory: memorySchema,
      disk: listOf(diskSchema),
      network: nullable(fixedObject({ Devices: listOf(deviceSchema), Status: text() })),
      errors: optional(fixedObject({ network: optional(text()) })),
    }),
  };
}
