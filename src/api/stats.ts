// stats: memory, disks and NetworkManager's view of the network.

import { object } from './schema.js';

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
