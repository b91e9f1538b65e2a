// NetworkManager's settings side: a connection profile built from what the agent was asked, put on
// a device through D-Bus only. A profile of the same name and type that exists is updated
// (Settings.Connection.Update) and activated again (ActivateConnection); otherwise the profile is
// added and activated in one call (AddAndActivateConnection). NetworkManager writes its own files;
// the agent never does.

import { endianness } from 'node:os';
import type * as DBus from 'dbus-next';
import { NotFoundError } from '../errors.js';
import { quoteValue } from '../text.js';
import {
  AP_IFACE,
  CONNECTION_IFACE,
  DEVICE_IFACE,
  NM_IFACE,
  NM_PATH,
  propertyNumber,
  propertyText,
  variantValue,
  WIRELESS_IFACE,
  type NetworkManagerBus,
} from './network-manager.js';

const SETTINGS_PATH = `${NM_PATH}/Settings`;
const SETTINGS_IFACE = `${NM_IFACE}.Settings`;

// ---- profiles, as plain values --------------------------------------------------------------

/** One property of a setting: its D-Bus signature and value (a variant on the wire). An
 * `aa{sv}` value is a list of such records. */
export interface SettingValue {
  signature: string;
  value: unknown;
}

/** NetworkManager's connection settings: setting name → property → value. */
export type ConnectionSettings = Record<string, Record<string, SettingValue>>;

const s = (value: string): SettingValue => ({ signature: 's', value });
const u = (value: number): SettingValue => ({ signature: 'u', value });
const i = (value: number): SettingValue => ({ signature: 'i', value });
const b = (value: boolean): SettingValue => ({ signature: 'b', value });

/** An IPv4 address as NetworkManager's `au` properties (ipv4.dns) take it: a uint32 holding the
 * bytes in network order, so its value depends on this machine's byte order. */
export function ip4ToUint32(address: string, order: 'LE' | 'BE' = endianness()): number {
  const bytes = address.split('.').map(Number);
  const ordered = order === 'LE' ? bytes.reverse() : bytes;
  return ordered.reduce((n, byte) => n * 256 + byte, 0);
}

export interface WifiProfile {
  ssid: string;
  /** A WPA passphrase (8–63 characters) or a raw key (64 hex digits); absent for an open network. */
  password?: string;
  /** The network does not broadcast its name. */
  hidden: boolean;
  /** WPA3 only (the access point offers SAE and not PSK): key management `sae`. */
  sae: boolean;
}

export type Ip4Profile =
  | { method: 'auto'; dns: string[] }
  | { method: 'manual'; address: string; prefix: number; gateway?: string; dns: string[] };

/** NetworkManager's `proxy` setting has only these two methods: no proxy, or a PAC file (from
 * the URL, or found by WPAD when there is none). */
export type ProxyProfile = { method: 'none' } | { method: 'auto'; pacUrl?: string };

export interface WiredProfile {
  ip4: Ip4Profile;
  proxy?: ProxyProfile;
}

/** The profile's connection setting; `interface-name` binds it to the device it was made for. */
function connectionSetting(id: string, type: string, interfaceName: string): Record<string, SettingValue> {
  return { id: s(id), type: s(type), 'interface-name': s(interfaceName) };
}

export function wifiSettings(profile: WifiProfile, interfaceName: string): ConnectionSettings {
  const settings: ConnectionSettings = {
    connection: connectionSetting(profile.ssid, '802-11-wireless', interfaceName),
    '802-11-wireless': {
      ssid: { signature: 'ay', value: Buffer.from(profile.ssid, 'utf8') },
      mode: s('infrastructure'),
      ...(profile.hidden ? { hidden: b(true) } : {}),
    },
    ipv4: { method: s('auto') },
    ipv6: { method: s('auto') },
  };
  if (profile.password !== undefined) {
    settings['802-11-wireless-security'] = { 'key-mgmt': s(profile.sae ? 'sae' : 'wpa-psk'), psk: s(profile.password) };
  }
  return settings;
}

/** The agent's own wired profile on `interfaceName`: updated by every later ethernet request. */
export const wiredConnectionId = (interfaceName: string) => `arduino-connector ${interfaceName}`;

export function wiredSettings(profile: WiredProfile, interfaceName: string): ConnectionSettings {
  const { ip4 } = profile;
  const dns: Record<string, SettingValue> = ip4.dns.length > 0 ? { dns: { signature: 'au', value: ip4.dns.map((a) => ip4ToUint32(a)) } } : {};
  const ipv4: Record<string, SettingValue> =
    ip4.method === 'auto'
      ? // Servers given replace those DHCP offers, as a device owner who names them means.
        { method: s('auto'), ...dns, ...(ip4.dns.length > 0 ? { 'ignore-auto-dns': b(true) } : {}) }
      : {
          method: s('manual'),
          'address-data': { signature: 'aa{sv}', value: [{ address: s(ip4.address), prefix: u(ip4.prefix) }] },
          ...(ip4.gateway ? { gateway: s(ip4.gateway) } : {}),
          ...dns,
        };
  const settings: ConnectionSettings = {
    connection: connectionSetting(wiredConnectionId(interfaceName), '802-3-ethernet', interfaceName),
    '802-3-ethernet': {},
    ipv4,
  };
  if (profile.proxy) {
    const { proxy } = profile;
    // NMSettingProxyMethod: 0 none, 1 auto.
    settings.proxy = proxy.method === 'none' ? { method: i(0) } : { method: i(1), ...(proxy.pacUrl ? { 'pac-url': s(proxy.pacUrl) } : {}) };
  }
  return settings;
}

/** The settings as dbus-next marshals `a{sa{sv}}`: every property a Variant. */
function toDbus(dbus: typeof DBus, settings: ConnectionSettings): Record<string, Record<string, DBus.Variant>> {
  const variant = (v: SettingValue): DBus.Variant =>
    new dbus.Variant(
      v.signature,
      v.signature === 'aa{sv}' ? (v.value as Record<string, SettingValue>[]).map((entry) => mapValues(entry, variant)) : v.value,
    );
  return mapValues(settings, (setting) => mapValues(setting, variant));
}

function mapValues<T, U>(record: Record<string, T>, map: (value: T) => U): Record<string, U> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, map(v)]));
}

// ---- devices, access points, saved profiles ------------------------------------------------------

export interface FoundDevice {
  path: string;
  interfaceName: string;
}

const typeNames: Record<number, string> = { 1: 'Ethernet', 2: 'Wi-Fi' };

const paths = (value: unknown): string[] => (Array.isArray(value) ? value.filter((p): p is string => typeof p === 'string') : []);

/** The device of `deviceType` named `interfaceName`, or the first of that type. */
export async function findDevice(bus: NetworkManagerBus, deviceType: number, interfaceName?: string): Promise<FoundDevice> {
  const [devicePaths] = await bus.call(NM_PATH, NM_IFACE, 'GetDevices');
  const kind = typeNames[deviceType] ?? `type ${deviceType}`;
  for (const path of paths(devicePaths)) {
    const props = await bus.getAll(path, DEVICE_IFACE);
    if (propertyNumber(props, 'DeviceType') !== deviceType) continue;
    const name = propertyText(props, 'Interface');
    if (interfaceName === undefined || name === interfaceName) return { path, interfaceName: name };
  }
  throw new NotFoundError(
    interfaceName === undefined ? `NetworkManager has no ${kind} device` : `NetworkManager has no ${kind} device named ${quoteValue(interfaceName)}`,
  );
}

export interface FoundAccessPoint {
  path: string;
  /** NM80211ApSecurityFlags of RSN (WPA2/WPA3). */
  rsnFlags: number;
}

/** The access point in range of the device that broadcasts `ssid`, if any (the strongest when
 * several do). */
export async function findAccessPoint(bus: NetworkManagerBus, devicePath: string, ssid: string): Promise<FoundAccessPoint | undefined> {
  const [apPaths] = await bus.call(devicePath, WIRELESS_IFACE, 'GetAccessPoints');
  const wanted = Buffer.from(ssid, 'utf8');
  let best: (FoundAccessPoint & { strength: number }) | undefined;
  for (const path of paths(apPaths)) {
    const props = await bus.getAll(path, AP_IFACE);
    const raw = variantValue(props, 'Ssid');
    const bytes = Buffer.isBuffer(raw) ? raw : Array.isArray(raw) ? Buffer.from(raw as number[]) : Buffer.alloc(0);
    if (!bytes.equals(wanted)) continue;
    const strength = propertyNumber(props, 'Strength');
    if (!best || strength > best.strength) best = { path, rsnFlags: propertyNumber(props, 'RsnFlags'), strength };
  }
  return best && { path: best.path, rsnFlags: best.rsnFlags };
}

/** NM_802_11_AP_SEC_KEY_MGMT_PSK and _SAE. */
const KEY_MGMT_PSK = 0x100;
const KEY_MGMT_SAE = 0x400;

/** Whether the access point speaks WPA3's SAE only, so the profile must ask for it. */
export const wantsSae = (ap: FoundAccessPoint | undefined) => ap !== undefined && (ap.rsnFlags & KEY_MGMT_SAE) !== 0 && (ap.rsnFlags & KEY_MGMT_PSK) === 0;

interface SavedProfile {
  path: string;
  uuid: string;
}

/** The saved profile with this id and type (NetworkManager's ids need not be unique: the first). */
async function findProfile(bus: NetworkManagerBus, id: string, type: string): Promise<SavedProfile | undefined> {
  const [connectionPaths] = await bus.call(SETTINGS_PATH, SETTINGS_IFACE, 'ListConnections');
  for (const path of paths(connectionPaths)) {
    // GetSettings never includes secrets.
    const [settings] = await bus.call(path, CONNECTION_IFACE, 'GetSettings');
    const section = settings !== null && typeof settings === 'object' ? (settings as Record<string, unknown>).connection : undefined;
    if (section === null || typeof section !== 'object') continue;
    const props = section as Record<string, unknown>;
    if (propertyText(props, 'id') === id && propertyText(props, 'type') === type) return { path, uuid: propertyText(props, 'uuid') };
  }
  return undefined;
}

// ---- putting a profile on a device ---------------------------------------------------------------

export interface AppliedConnection {
  /** The profile's object path (Settings.Connection). */
  connection: string;
  /** The activation NetworkManager started (Connection.Active). */
  activeConnection: string;
  interfaceName: string;
  action: 'added' | 'updated';
}

export interface ProfileOnDevice {
  device: FoundDevice;
  settings: ConnectionSettings;
  /** The access point for a Wi-Fi profile; "/" lets NetworkManager choose. */
  specificObject: string;
}

/** Adds and activates the profile, or updates the saved profile of the same id and type and
 * activates that. NetworkManager's refusals come out as its D-Bus errors. */
export async function applyProfile(bus: NetworkManagerBus, dbus: typeof DBus, profile: ProfileOnDevice): Promise<AppliedConnection> {
  const { device, settings, specificObject } = profile;
  const id = String(settings.connection?.id?.value ?? '');
  const type = String(settings.connection?.type?.value ?? '');
  const saved = await findProfile(bus, id, type);
  if (saved) {
    // Update replaces every setting; the profile keeps its uuid, which NetworkManager requires.
    const updated: ConnectionSettings = { ...settings, connection: { ...settings.connection, uuid: s(saved.uuid) } };
    await bus.call(saved.path, CONNECTION_IFACE, 'Update', 'a{sa{sv}}', [toDbus(dbus, updated)]);
    const [active] = await bus.call(NM_PATH, NM_IFACE, 'ActivateConnection', 'ooo', [saved.path, device.path, specificObject]);
    return { connection: saved.path, activeConnection: String(active), interfaceName: device.interfaceName, action: 'updated' };
  }
  const [connection, active] = await bus.call(NM_PATH, NM_IFACE, 'AddAndActivateConnection', 'a{sa{sv}}oo', [
    toDbus(dbus, settings),
    device.path,
    specificObject,
  ]);
  return { connection: String(connection), activeConnection: String(active), interfaceName: device.interfaceName, action: 'added' };
}
