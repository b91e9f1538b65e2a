// NetworkManager's view of the network, read over D-Bus: devices with their type, state, IPv4
// configuration, access points and available connections, and the global state, each value as
// NetworkManager gives it (enums as its numbers). One short-lived bus connection per reading: a
// NetworkManager (or bus) that restarted is simply found again next time, and nothing is kept open
// while the agent is idle. The settings side (network-manager-settings.ts) uses the same session.

import { endianness } from 'node:os';
import type * as DBus from 'dbus-next';
import { DomainError, FailedError, TimedOutError, UnavailableError } from '../errors.js';
import { errorMessage, silentLogger, type Logger } from '../log.js';
import { escapeText } from '../text.js';

const NM_NAME = 'org.freedesktop.NetworkManager';
export const NM_PATH = '/org/freedesktop/NetworkManager';
export const NM_IFACE = 'org.freedesktop.NetworkManager';
export const DEVICE_IFACE = `${NM_IFACE}.Device`;
const WIRED_IFACE = `${NM_IFACE}.Device.Wired`;
export const WIRELESS_IFACE = `${NM_IFACE}.Device.Wireless`;
export const AP_IFACE = `${NM_IFACE}.AccessPoint`;
const IP4_IFACE = `${NM_IFACE}.IP4Config`;
export const CONNECTION_IFACE = `${NM_IFACE}.Settings.Connection`;
const PROPERTIES_IFACE = 'org.freedesktop.DBus.Properties';

/** NMDeviceType values the reader itself needs. */
export const NM_DEVICE_TYPE_ETHERNET = 1;
export const NM_DEVICE_TYPE_WIFI = 2;

export const DEFAULT_NETWORK_TIMEOUT_MS = 3000;

// ---- what a reading holds ------------------------------------------------------------------------

export interface AccessPoint {
  ssid: string;
  hwAddress: string;
  /** NM80211ApFlags. */
  flags: number;
  /** NM80211ApSecurityFlags of WPA. */
  wpaFlags: number;
  /** NM80211ApSecurityFlags of RSN (WPA2). */
  rsnFlags: number;
  frequencyMHz: number;
  maxBitrateKbps: number;
  strengthPercent: number;
  /** NM80211Mode. */
  mode: number;
}

export interface Ip4Address {
  address: string;
  prefix: number;
  /** Only NetworkManager's older per-address tuples carry a gateway for each address. */
  gateway?: string;
}

export interface Ip4Route {
  dest: string;
  prefix: number;
  /** Absent for a route on the link. */
  nextHop?: string;
  metric: number;
}

export interface Ip4Configuration {
  addresses: Ip4Address[];
  /** The configuration's gateway, "" when it has none. */
  gateway: string;
  nameservers: string[];
  domains: string[];
  routes: Ip4Route[];
}

/** A saved connection profile that can be activated on a device (secrets are never read). */
export interface ConnectionProfile {
  path: string;
  id: string;
  uuid: string;
  type: string;
}

export interface NetworkDevice {
  /** The device's D-Bus object path. */
  path: string;
  interface: string;
  /** NMDeviceType. */
  type: number;
  /** NMDeviceState. */
  state: number;
  hwAddress: string;
  /** null unless the device has an IPv4 configuration (it is activated). */
  ip4Config: Ip4Configuration | null;
  /** Visible access points with a broadcast SSID; null for a device that is not Wi-Fi. */
  accessPoints: AccessPoint[] | null;
  availableConnections: ConnectionProfile[];
}

export interface NetworkReading {
  devices: NetworkDevice[];
  /** NMState, the global state. */
  state: number;
}

/** NetworkManager's older properties carry IPv4 addresses as a uint32 holding the bytes in
 * network order, so the number's value depends on this machine's byte order. */
export function ip4FromUint32(value: number, order: 'LE' | 'BE' = endianness()): string {
  const bytes = [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255];
  return (order === 'LE' ? bytes.reverse() : bytes).join('.');
}

// ---- reading D-Bus values without trusting their types ----------------------------------------

type Properties = Record<string, unknown>;

/** A property's value, unwrapped from its variant. */
function raw(props: Properties, name: string): unknown {
  const value = props[name];
  return value !== null && typeof value === 'object' && 'signature' in value && 'value' in value ? (value as DBus.Variant).value : value;
}
const text = (props: Properties, name: string): string => {
  const value = raw(props, name);
  return typeof value === 'string' ? value : '';
};
const num = (props: Properties, name: string): number => {
  const value = raw(props, name);
  if (typeof value === 'bigint') return Number(value);
  return typeof value === 'number' ? value : 0;
};
const list = (props: Properties, name: string): unknown[] => {
  const value = raw(props, name);
  return Array.isArray(value) ? value : [];
};
const strings = (props: Properties, name: string): string[] => list(props, name).filter((v): v is string => typeof v === 'string');
const dicts = (props: Properties, name: string): Properties[] =>
  list(props, name).filter((v): v is Properties => v !== null && typeof v === 'object' && !Array.isArray(v));
const tuples = (props: Properties, name: string): number[][] =>
  list(props, name).filter((v): v is number[] => Array.isArray(v) && v.every((n) => typeof n === 'number'));
const isObjectPath = (path: string) => path.startsWith('/') && path !== '/';

/** The same readers for the settings side (network-manager-settings.ts). */
export { raw as variantValue, text as propertyText, num as propertyNumber };

// ---- the reader --------------------------------------------------------------------------------

/** NetworkManager's methods and properties, called by object path and interface. */
export interface NetworkManagerBus {
  call(path: string, iface: string, member: string, signature?: string, body?: unknown[]): Promise<unknown[]>;
  getAll(path: string, iface: string): Promise<Properties>;
}

function busCalls(dbus: typeof DBus, bus: DBus.MessageBus): NetworkManagerBus {
  const call = async (path: string, iface: string, member: string, signature?: string, body?: unknown[]) => {
    const message = new dbus.Message({ destination: NM_NAME, path, interface: iface, member, signature, body });
    const reply = await bus.call(message);
    return reply?.body ?? [];
  };
  return {
    call,
    getAll: async (path, iface) => {
      const [props] = await call(path, PROPERTIES_IFACE, 'GetAll', 's', [iface]);
      return props !== null && typeof props === 'object' ? (props as Properties) : {};
    },
  };
}

class NetworkReader {
  constructor(private readonly bus: NetworkManagerBus, private readonly log: Logger) {}

  async read(): Promise<NetworkReading> {
    const [[paths], manager] = await Promise.all([this.bus.call(NM_PATH, NM_IFACE, 'GetDevices'), this.bus.getAll(NM_PATH, NM_IFACE)]);
    const devicePaths = Array.isArray(paths) ? paths.filter((p): p is string => typeof p === 'string') : [];
    const devices = await Promise.all(devicePaths.map((path) => this.partOrNothing(`device ${path}`, () => this.device(path))));
    return { devices: devices.filter((d): d is NetworkDevice => d !== undefined), state: num(manager, 'State') };
  }

  /** A part that vanished between listing and reading (an access point out of range, a device
   * unplugged) is left out instead of failing the whole answer. */
  private async partOrNothing<T>(what: string, read: () => Promise<T>): Promise<T | undefined> {
    try {
      return await read();
    } catch (err) {
      this.log.debug(`${what} left out: ${errorMessage(err)}`);
      return undefined;
    }
  }

  private async device(path: string): Promise<NetworkDevice> {
    const props = await this.bus.getAll(path, DEVICE_IFACE);
    const type = num(props, 'DeviceType');
    const specificIface = type === NM_DEVICE_TYPE_ETHERNET ? WIRED_IFACE : type === NM_DEVICE_TYPE_WIFI ? WIRELESS_IFACE : undefined;
    const ip4Path = text(props, 'Ip4Config');
    const [specific, accessPoints, ip4, connections] = await Promise.all([
      specificIface ? this.partOrNothing(`${specificIface} of ${path}`, () => this.bus.getAll(path, specificIface)) : undefined,
      type === NM_DEVICE_TYPE_WIFI ? this.accessPoints(path) : null,
      isObjectPath(ip4Path) ? this.partOrNothing(`IPv4 configuration ${ip4Path}`, () => this.ip4Config(ip4Path)) : undefined,
      Promise.all(strings(props, 'AvailableConnections').map((c) => this.partOrNothing(`connection ${c}`, () => this.connection(c)))),
    ]);
    return {
      path,
      interface: text(props, 'Interface'),
      type,
      state: num(props, 'State'),
      // NetworkManager 1.24+ has it on every device; older ones only on the wired/wireless part.
      hwAddress: text(props, 'HwAddress') || (specific ? text(specific, 'HwAddress') : ''),
      ip4Config: ip4 ?? null,
      accessPoints,
      availableConnections: connections.filter((c): c is ConnectionProfile => c !== undefined),
    };
  }

  private async accessPoints(devicePath: string): Promise<AccessPoint[]> {
    // Only the access points with a broadcast SSID, as the Go agent listed them. No RequestScan:
    // a status query should not make the radio scan; NetworkManager rescans on its own.
    const [paths] = await this.bus.call(devicePath, WIRELESS_IFACE, 'GetAccessPoints');
    const apPaths = Array.isArray(paths) ? paths.filter((p): p is string => typeof p === 'string') : [];
    const aps = await Promise.all(apPaths.map((p) => this.partOrNothing(`access point ${p}`, () => this.accessPoint(p))));
    return aps.filter((ap): ap is AccessPoint => ap !== undefined);
  }

  private async accessPoint(path: string): Promise<AccessPoint> {
    const props = await this.bus.getAll(path, AP_IFACE);
    const ssid = raw(props, 'Ssid');
    return {
      ssid: Buffer.isBuffer(ssid) ? ssid.toString('utf8') : Array.isArray(ssid) ? Buffer.from(ssid as number[]).toString('utf8') : '',
      hwAddress: text(props, 'HwAddress'),
      flags: num(props, 'Flags'),
      wpaFlags: num(props, 'WpaFlags'),
      rsnFlags: num(props, 'RsnFlags'),
      frequencyMHz: num(props, 'Frequency'),
      maxBitrateKbps: num(props, 'MaxBitrate'),
      strengthPercent: num(props, 'Strength'),
      mode: num(props, 'Mode'),
    };
  }

  private async ip4Config(path: string): Promise<Ip4Configuration> {
    const props = await this.bus.getAll(path, IP4_IFACE);
    // The *Data properties (NetworkManager 1.0+) replace the uint32 tuples, which newer versions
    // may drop; the tuples are the fallback for older daemons.
    const addressData = dicts(props, 'AddressData');
    const legacyAddresses = tuples(props, 'Addresses');
    const gateway = text(props, 'Gateway') || (legacyAddresses[0] ? ip4FromUint32(legacyAddresses[0][2] ?? 0) : '');
    const addresses: Ip4Address[] = addressData.length
      ? addressData.map((a) => ({ address: text(a, 'address'), prefix: num(a, 'prefix') }))
      : legacyAddresses.map(([address = 0, prefix = 0, gw = 0]) => ({ address: ip4FromUint32(address), prefix, gateway: ip4FromUint32(gw) }));
    const routeData = dicts(props, 'RouteData');
    const routes: Ip4Route[] = routeData.length
      ? routeData.map((r) => {
          const nextHop = text(r, 'next-hop');
          return { dest: text(r, 'dest'), prefix: num(r, 'prefix'), ...(nextHop ? { nextHop } : {}), metric: num(r, 'metric') };
        })
      : tuples(props, 'Routes').map(([dest = 0, prefix = 0, hop = 0, metric = 0]) => ({
          dest: ip4FromUint32(dest),
          prefix,
          // The tuples write a route on the link with next hop 0.
          ...(hop ? { nextHop: ip4FromUint32(hop) } : {}),
          metric,
        }));
    const nameserverData = dicts(props, 'NameserverData');
    const nameservers = nameserverData.length
      ? nameserverData.map((n) => text(n, 'address')).filter(Boolean)
      : list(props, 'Nameservers').filter((n): n is number => typeof n === 'number').map((n) => ip4FromUint32(n));
    return { addresses, gateway, nameservers, domains: strings(props, 'Domains'), routes };
  }

  private async connection(path: string): Promise<ConnectionProfile> {
    // GetSettings never includes secrets; only the profile's identity is kept anyway.
    const [settings] = await this.bus.call(path, CONNECTION_IFACE, 'GetSettings');
    const section = settings !== null && typeof settings === 'object' ? (settings as Record<string, unknown>).connection : undefined;
    const connection = section !== null && typeof section === 'object' ? (section as Properties) : {};
    return { path, id: text(connection, 'id'), uuid: text(connection, 'uuid'), type: text(connection, 'type') };
  }
}

// ---- one session on the bus ----------------------------------------------------------------------

export interface ReadNetworkOptions {
  /** A D-Bus address (`unix:path=...`); default: the system bus (DBUS_SYSTEM_BUS_ADDRESS or
   * the standard socket). */
  busAddress?: string;
  /** The whole reading gives up after this long: a hung daemon must not hang the answer. */
  timeoutMs?: number;
  log?: Logger;
}

/** D-Bus errors that mean NetworkManager cannot be reached at all (rather than NetworkManager
 * refusing what it was asked). */
const unreachable = /^org\.freedesktop\.DBus\.Error\.(ServiceUnknown|NameHasNoOwner|NoServer|Disconnected|Spawn\..*)$/;

/** The D-Bus error name of `err`, when it is one (dbus-next's DBusError carries it as `type`). */
function dbusErrorName(err: unknown): string | undefined {
  return err !== null && typeof err === 'object' && 'type' in err && typeof err.type === 'string' ? err.type : undefined;
}

/** A failure on the bus as a domain error: NetworkManager missing from the bus is unavailable;
 * anything else keeps D-Bus's error name beside its message (NetworkManager's reason). */
function explain(err: unknown): DomainError {
  if (err instanceof DomainError) return err;
  const name = dbusErrorName(err);
  if (name !== undefined && unreachable.test(name)) {
    return new UnavailableError(`NetworkManager is not available on D-Bus: ${escapeText(errorMessage(err), 1000)} (${name})`, { cause: err });
  }
  // NetworkManager's messages can quote what it was sent (an SSID).
  const message = escapeText(errorMessage(err), 1000);
  return new FailedError(name === undefined ? message : `${message} (${escapeText(name, 200)})`, { cause: err });
}

/** The D-Bus library, loaded on first use: an agent nobody asks about the network never loads it. */
async function loadDbus(): Promise<typeof DBus> {
  return (await import('dbus-next')).default;
}

/**
 * Runs `work` over one new connection to NetworkManager's bus and closes it after: a
 * NetworkManager (or bus) that restarted is simply found again next time, and nothing is kept open
 * while the agent is idle. The whole of `work` gives up after `timeoutMs`; every failure comes out
 * as a domain error (`explain`).
 */
export async function withNetworkManager<T>(options: ReadNetworkOptions, work: (bus: NetworkManagerBus, dbus: typeof DBus) => Promise<T>): Promise<T> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_NETWORK_TIMEOUT_MS;
  const dbus = await loadDbus();
  // dbus-next reads DBUS_SYSTEM_BUS_ADDRESS itself but fails obscurely on a malformed one. A bad
  // address makes the bus as unusable as a missing one.
  const address = options.busAddress ?? process.env.DBUS_SYSTEM_BUS_ADDRESS;
  if (address !== undefined && !/^[a-z]+:/i.test(address)) throw new UnavailableError(`not a D-Bus address: ${JSON.stringify(address)}`);
  let bus: DBus.MessageBus;
  try {
    bus = options.busAddress ? dbus.sessionBus({ busAddress: options.busAddress }) : dbus.systemBus();
  } catch (err) {
    throw new UnavailableError(`cannot open the D-Bus connection: ${errorMessage(err)}`, { cause: err });
  }
  let timer: NodeJS.Timeout | undefined;
  const failure = new Promise<never>((_, reject) => {
    // Kept for the life of the connection object: a late socket error must not become an
    // uncaught 'error' event that ends the agent.
    bus.on('error', (err: unknown) => reject(new UnavailableError(`D-Bus connection failed: ${errorMessage(err)}`, { cause: err })));
    timer = setTimeout(() => reject(new TimedOutError(`NetworkManager did not answer on D-Bus within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([work(busCalls(dbus, bus), dbus), failure]);
  } catch (err) {
    throw explain(err);
  } finally {
    clearTimeout(timer);
    bus.disconnect();
  }
}

export async function readNetwork(options: ReadNetworkOptions = {}): Promise<NetworkReading> {
  return withNetworkManager(options, (bus) => new NetworkReader(bus, options.log ?? silentLogger).read());
}
