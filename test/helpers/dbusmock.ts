// A private D-Bus daemon and NetworkManager's D-Bus API served by python3-dbusmock's
// `networkmanager` template on it, so NetworkManager code talks to a real bus in tests.

import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import dbus from 'dbus-next';
import { tempDir } from './tmp.js';
import { waitFor } from './wait.js';

const NM_NAME = 'org.freedesktop.NetworkManager';
const NM_PATH = '/org/freedesktop/NetworkManager';
const MOCK_IFACE = 'org.freedesktop.DBus.Mock';

export { dbus };

export interface DbusDaemon {
  /** The bus address, e.g. `unix:path=/tmp/.../bus`. */
  address: string;
  /** A client connection on the bus (for the mock's control methods and test services). */
  client: dbus.MessageBus;
  close(): Promise<void>;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    // A stopped process must be continued to act on SIGTERM.
    child.kill('SIGCONT');
    child.kill('SIGTERM');
  });
}

/** Reads the first line a child prints on stdout (dbus-daemon's address once it listens). */
function firstLine(child: ChildProcess, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(out.slice(0, nl).trim());
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${what} exited (${code}): ${err}`)));
  });
}

export async function startDbusDaemon(): Promise<DbusDaemon> {
  const dir = await tempDir('ac-dbus-');
  const child = spawn('dbus-daemon', ['--session', '--nofork', `--address=unix:path=${join(dir.path, 'bus')}`, '--print-address=1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const address = (await firstLine(child, 'dbus-daemon')).split(',')[0]!;
  const client = dbus.sessionBus({ busAddress: address });
  client.on('error', () => {});
  return {
    address,
    client,
    close: async () => {
      client.disconnect();
      await stopChild(child);
      await dir.remove();
    },
  };
}

async function nameHasOwner(client: dbus.MessageBus, name: string): Promise<boolean> {
  const reply = await client.call(
    new dbus.Message({
      destination: 'org.freedesktop.DBus',
      path: '/org/freedesktop/DBus',
      interface: 'org.freedesktop.DBus',
      member: 'NameHasOwner',
      signature: 's',
      body: [name],
    }),
  );
  return reply?.body[0] === true;
}

export interface NetworkManagerMock {
  pid: number;
  /** Calls a method of org.freedesktop.DBus.Mock on one of the mock's objects. */
  mock(path: string, member: string, signature: string, body: unknown[]): Promise<unknown>;
  addEthernetDevice(name: string, iface: string, state: number): Promise<string>;
  addWiFiDevice(name: string, iface: string, state: number): Promise<string>;
  addAccessPoint(
    device: string,
    name: string,
    ap: { ssid: string; hwAddress: string; mode: number; frequency: number; maxBitrate: number; strength: number; security: number },
  ): Promise<string>;
  addWiFiConnection(device: string, name: string, ssid: string): Promise<string>;
  addActiveConnection(devices: string[], connection: string, specificObject: string, name: string, state: number): Promise<string>;
  /** Adds an object with properties (variants) on one interface, e.g. an IP4Config. */
  addObject(path: string, iface: string, properties: Record<string, dbus.Variant>): Promise<void>;
  addProperty(path: string, iface: string, name: string, value: dbus.Variant): Promise<void>;
  /** Adds or replaces a method of one of the mock's objects: `code` is Python run with `args`,
   * `self` and `objects`, setting `ret` (org.freedesktop.DBus.Mock.AddMethod). */
  addMethod(path: string, iface: string, name: string, inSignature: string, outSignature: string, code: string): Promise<void>;
  /** Replaces the template's AddAndActivateConnection, which drops the settings it is given
   * (it makes a Wi-Fi profile of its own, and fails for a wired one), by one that stores them as
   * Settings.AddConnection does and activates the new profile on the device. */
  keepAddedSettings(): Promise<void>;
  /** A profile's settings as GetSettings gives them (the mock keeps secrets in them), variants
   * unwrapped. */
  connectionSettings(path: string): Promise<Record<string, Record<string, unknown>>>;
  /** The properties of an object on one interface, variants unwrapped. */
  properties(path: string, iface: string): Promise<Record<string, unknown>>;
  /** Stops (SIGSTOP) the mock: it keeps its name on the bus but answers nothing. */
  freeze(): void;
  thaw(): void;
  stop(): Promise<void>;
}

/** Device states as NetworkManager numbers them. */
export const DeviceState = { UNAVAILABLE: 20, DISCONNECTED: 30, ACTIVATED: 100 } as const;
/** NM_802_11_AP_SEC_KEY_MGMT_PSK: dbusmock's AddWiFiConnection only knows this one. */
export const AP_SEC_KEY_MGMT_PSK = 0x100;

function unwrap(props: Record<string, dbus.Variant>): Record<string, unknown> {
  const value = (v: unknown): unknown =>
    v instanceof dbus.Variant ? value(v.value) : Array.isArray(v) ? v.map(value) : v !== null && typeof v === 'object' && !Buffer.isBuffer(v) ? unwrap(v as Record<string, dbus.Variant>) : v;
  return Object.fromEntries(Object.entries(props).map(([k, v]) => [k, value(v)]));
}

export async function startNetworkManagerMock(bus: DbusDaemon): Promise<NetworkManagerMock> {
  // The pyenv python3 on PATH has no dbusmock; Debian's has.
  const child = spawn('/usr/bin/python3', ['-m', 'dbusmock', '--system', '--template', 'networkmanager'], {
    env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: bus.address },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`dbusmock exited (${code}): ${output}`))));
  exited.catch(() => {});
  await Promise.race([waitFor(() => nameHasOwner(bus.client, NM_NAME), 'dbusmock to own org.freedesktop.NetworkManager'), exited]);

  const mock = async (path: string, member: string, signature: string, body: unknown[]) => {
    const reply = await bus.client.call(new dbus.Message({ destination: NM_NAME, path, interface: MOCK_IFACE, member, signature, body }));
    return reply?.body[0];
  };
  return {
    pid: child.pid!,
    mock,
    addEthernetDevice: async (name, iface, state) => String(await mock(NM_PATH, 'AddEthernetDevice', 'ssi', [name, iface, state])),
    addWiFiDevice: async (name, iface, state) => String(await mock(NM_PATH, 'AddWiFiDevice', 'ssi', [name, iface, state])),
    addAccessPoint: async (device, name, ap) =>
      String(
        await mock(NM_PATH, 'AddAccessPoint', 'ssssuuuyu', [
          device,
          name,
          ap.ssid,
          ap.hwAddress,
          ap.mode,
          ap.frequency,
          ap.maxBitrate,
          ap.strength,
          ap.security,
        ]),
      ),
    addWiFiConnection: async (device, name, ssid) => String(await mock(NM_PATH, 'AddWiFiConnection', 'ssss', [device, name, ssid, 'wpa-psk'])),
    addActiveConnection: async (devices, connection, specificObject, name, state) =>
      String(await mock(NM_PATH, 'AddActiveConnection', 'assssu', [devices, connection, specificObject, name, state])),
    addObject: async (path, iface, properties) => {
      await mock(NM_PATH, 'AddObject', 'ssa{sv}a(ssss)', [path, iface, properties, []]);
    },
    addProperty: async (path, iface, name, value) => {
      await mock(path, 'AddProperty', 'ssv', [iface, name, value]);
    },
    addMethod: async (path, iface, name, inSignature, outSignature, code) => {
      await mock(path, 'AddMethod', 'sssss', [iface, name, inSignature, outSignature, code]);
    },
    keepAddedSettings: async () => {
      const code = [
        `conn = objects['${NM_PATH}/Settings'].SettingsAddConnection(args[0])`,
        'ret = (conn, self.activate_connection(self, conn, args[1], args[2]))',
      ].join('\n');
      await mock(NM_PATH, 'AddMethod', 'sssss', [NM_NAME, 'AddAndActivateConnection', 'a{sa{sv}}oo', 'oo', code]);
    },
    connectionSettings: async (path) => {
      const reply = await bus.client.call(
        new dbus.Message({ destination: NM_NAME, path, interface: `${NM_NAME}.Settings.Connection`, member: 'GetSettings' }),
      );
      const settings = (reply?.body[0] ?? {}) as Record<string, Record<string, dbus.Variant>>;
      return Object.fromEntries(Object.entries(settings).map(([name, props]) => [name, unwrap(props)]));
    },
    properties: async (path, iface) => {
      const reply = await bus.client.call(
        new dbus.Message({ destination: NM_NAME, path, interface: 'org.freedesktop.DBus.Properties', member: 'GetAll', signature: 's', body: [iface] }),
      );
      return unwrap((reply?.body[0] ?? {}) as Record<string, dbus.Variant>);
    },
    freeze: () => void child.kill('SIGSTOP'),
    thaw: () => void child.kill('SIGCONT'),
    stop: () => stopChild(child),
  };
}
