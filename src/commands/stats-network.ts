// The network part of `stats` as the Go agent's gonetworkmanager marshalled it: NetworkManager's
// enums by their Go names (`NmDeviceTypeEthernet`, `NmDeviceStateActivated`, `Nm80211ModeInfra`,
// `NmStateConnectedGlobal`; a value without a name as `NmDeviceType(40)`), and "0.0.0.0" where
// that library wrote an address NetworkManager leaves out.

import type { AccessPointInfo, DeviceInfo, IP4ConfigInfo, NetworkStats } from '../api.js';
import type { AccessPoint, Ip4Configuration, NetworkDevice, NetworkReading } from '../system/network-manager.js';

const deviceTypes = [
  'Unknown', 'Ethernet', 'Wifi', 'Unused1', 'Unused2', 'Bt', 'OlpcMesh', 'Wimax', 'Modem', 'Infiniband',
  'Bond', 'Vlan', 'Adsl', 'Bridge', 'Generic', 'Team', 'Tun', 'IpTunnel', 'Macvlan', 'Vxlan', 'Veth',
  'Macsec', 'Dummy', 'Ppp', 'OvsInterface', 'OvsPort', 'OvsBridge', 'Wpan', '6lowpan', 'Wireguard',
  'WifiP2p', 'Vrf', 'Loopback', 'Hsr', 'Ipvlan',
];
const deviceStates: Record<number, string> = {
  0: 'Unknown', 10: 'Unmanaged', 20: 'Unavailable', 30: 'Disconnected', 40: 'Prepare', 50: 'Config',
  60: 'Need_auth', 70: 'Ip_config', 80: 'Ip_check', 90: 'Secondaries', 100: 'Activated',
  110: 'Deactivating', 120: 'Failed',
};
const globalStates: Record<number, string> = {
  0: 'Unknown', 10: 'Asleep', 20: 'Disconnected', 30: 'Disconnecting', 40: 'Connecting',
  50: 'ConnectedLocal', 60: 'ConnectedSite', 70: 'ConnectedGlobal',
};
const wifiModes = ['Unknown', 'Adhoc', 'Infra', 'Ap', 'Mesh'];

function enumName(prefix: string, names: Record<number, string> | string[], value: number): string {
  const name = (names as Record<number, string | undefined>)[value];
  return name === undefined ? `${prefix}(${value})` : `${prefix}${name}`;
}

export const deviceTypeName = (value: number) => enumName('NmDeviceType', deviceTypes, value);
export const deviceStateName = (value: number) => enumName('NmDeviceState', deviceStates, value);
export const globalStateName = (value: number) => enumName('NmState', globalStates, value);
export const wifiModeName = (value: number) => enumName('Nm80211Mode', wifiModes, value);

const noAddress = '0.0.0.0';

function toWireIp4(config: Ip4Configuration): IP4ConfigInfo {
  return {
    // NetworkManager's newer AddressData has one gateway for the configuration; the Go agent gave
    // it with the first address.
    Addresses: config.addresses.map((a, i) => ({
      Address: a.address,
      Prefix: a.prefix,
      Gateway: a.gateway ?? (i === 0 && config.gateway ? config.gateway : noAddress),
    })),
    Gateway: config.gateway,
    Nameservers: config.nameservers,
    Domains: config.domains,
    Routes: config.routes.map((r) => ({ Route: r.dest, Prefix: r.prefix, NextHop: r.nextHop ?? noAddress, Metric: r.metric })),
  };
}

function toWireAccessPoint(ap: AccessPoint): AccessPointInfo {
  return {
    SSID: ap.ssid,
    HWAddress: ap.hwAddress,
    Flags: ap.flags,
    WPAFlags: ap.wpaFlags,
    RSNFlags: ap.rsnFlags,
    Frequency: ap.frequencyMHz,
    MaxBitrate: ap.maxBitrateKbps,
    Strength: ap.strengthPercent,
    Mode: wifiModeName(ap.mode),
  };
}

function toWireDevice(device: NetworkDevice): DeviceInfo {
  return {
    Path: device.path,
    Interface: device.interface,
    DeviceType: deviceTypeName(device.type),
    State: deviceStateName(device.state),
    HWAddress: device.hwAddress,
    IP4Config: device.ip4Config ? toWireIp4(device.ip4Config) : null,
    AccessPoints: device.accessPoints ? device.accessPoints.map(toWireAccessPoint) : null,
    AvailableConnections: device.availableConnections.map((c) => ({ Path: c.path, Id: c.id, Uuid: c.uuid, Type: c.type })),
  };
}

export function toWireNetwork(reading: NetworkReading): NetworkStats {
  return { Devices: reading.devices.map(toWireDevice), Status: globalStateName(reading.state) };
}
