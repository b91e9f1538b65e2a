// NetworkManager over a real private D-Bus daemon, served by python3-dbusmock's template.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { endianness, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { TimedOutError, UnavailableError } from '../../src/errors.js';
import { ip4FromUint32, readNetwork, type NetworkReading } from '../../src/system/network-manager.js';
import {
  AP_SEC_KEY_MGMT_PSK,
  dbus,
  DeviceState,
  startDbusDaemon,
  startNetworkManagerMock,
  type DbusDaemon,
  type NetworkManagerMock,
} from '../helpers/dbusmock.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);
const V = dbus.Variant;
const IP4_IFACE = 'org.freedesktop.NetworkManager.IP4Config';
const DEVICE_IFACE = 'org.freedesktop.NetworkManager.Device';

/** An address as NetworkManager's uint32 tuples carry it: network-order bytes read natively. */
const packed = (ip: string) => {
  const bytes = Buffer.from(ip.split('.').map(Number));
  return endianness() === 'LE' ? bytes.readUInt32LE(0) : bytes.readUInt32BE(0);
};

describe('NetworkManager addresses', () => {
  it('reads network-order uint32 addresses for either byte order', () => {
    assert.equal(ip4FromUint32(0x0101a8c0, 'LE'), '192.168.1.1');
    assert.equal(ip4FromUint32(0xc0a80101, 'BE'), '192.168.1.1');
    assert.equal(ip4FromUint32(0, 'LE'), '0.0.0.0');
  });
});

describe('NetworkManager over D-Bus', () => {
  let bus: DbusDaemon;
  let nm: NetworkManagerMock;
  let eth: string;
  let wlan: string;
  let ap: string;
  let connection: string;

  before(async () => {
    bus = await startDbusDaemon();
    nm = await startNetworkManagerMock(bus);
    eth = await nm.addEthernetDevice('eth0', 'eth0', DeviceState.ACTIVATED);
    wlan = await nm.addWiFiDevice('wlan0', 'wlan0', DeviceState.ACTIVATED);
    ap = await nm.addAccessPoint(wlan, 'ap0', {
      ssid: 'Workshop Wi-Fi',
      hwAddress: '00:11:22:33:44:55',
      mode: 2,
      frequency: 5180,
      maxBitrate: 54000,
      strength: 82,
      security: AP_SEC_KEY_MGMT_PSK,
    });
    await nm.addAccessPoint(wlan, 'ap1', {
      ssid: 'Neighbour',
      hwAddress: '66:77:88:99:aa:bb',
      mode: 2,
      frequency: 2412,
      maxBitrate: 11000,
      strength: 20,
      security: AP_SEC_KEY_MGMT_PSK,
    });
    connection = await nm.addWiFiConnection(wlan, 'workshop', 'Workshop Wi-Fi');
    await nm.addActiveConnection([wlan], connection, ap, 'active0', 2);
    // The wired device gets a configuration in NetworkManager 1.x's *Data properties...
    const ethConfig = '/org/freedesktop/NetworkManager/IP4Config/1';
    await nm.addObject(ethConfig, IP4_IFACE, {
      AddressData: new V('aa{sv}', [
        { address: new V('s', '192.168.10.20'), prefix: new V('u', 24) },
        { address: new V('s', '10.1.2.3'), prefix: new V('u', 8) },
      ]),
      Gateway: new V('s', '192.168.10.1'),
      RouteData: new V('aa{sv}', [
        { dest: new V('s', '192.168.10.0'), prefix: new V('u', 24), metric: new V('u', 100) },
        { dest: new V('s', '0.0.0.0'), prefix: new V('u', 0), 'next-hop': new V('s', '192.168.10.1'), metric: new V('u', 100) },
      ]),
      NameserverData: new V('aa{sv}', [{ address: new V('s', '192.168.10.1') }, { address: new V('s', '9.9.9.9') }]),
      Domains: new V('as', ['lab.example']),
    });
    await nm.addProperty(eth, DEVICE_IFACE, 'Ip4Config', new V('o', ethConfig));
    // ...the Wi-Fi one only in the older uint32 tuples.
    const wlanConfig = '/org/freedesktop/NetworkManager/IP4Config/2';
    await nm.addObject(wlanConfig, IP4_IFACE, {
      Addresses: new V('aau', [[packed('10.0.0.7'), 16, packed('10.0.0.1')]]),
      Routes: new V('aau', [[packed('10.0.0.0'), 16, packed('0.0.0.0'), 600]]),
      Nameservers: new V('au', [packed('10.0.0.1')]),
      Domains: new V('as', []),
    });
    await nm.addProperty(wlan, DEVICE_IFACE, 'Ip4Config', new V('o', wlanConfig));
  });
  after(async () => {
    await nm?.stop();
    await bus?.close();
  });

  it('gives every device with its type, state, IPv4 configuration, access points and connections, as NetworkManager has them', async () => {
    const reading: NetworkReading = await readNetwork({ busAddress: bus.address });
    const uuid = reading.devices[1]?.availableConnections[0]?.uuid ?? '';
    assert.match(uuid, /^[0-9a-f-]{36}$/);
    assert.deepEqual(reading, {
      // NM_STATE_CONNECTED_GLOBAL
      state: 70,
      devices: [
        {
          path: eth,
          interface: 'eth0',
          type: 1,
          state: DeviceState.ACTIVATED,
          hwAddress: '78:DD:08:D2:3D:43',
          ip4Config: {
            // AddressData carries no gateway per address.
            addresses: [
              { address: '192.168.10.20', prefix: 24 },
              { address: '10.1.2.3', prefix: 8 },
            ],
            gateway: '192.168.10.1',
            nameservers: ['192.168.10.1', '9.9.9.9'],
            domains: ['lab.example'],
            routes: [
              { dest: '192.168.10.0', prefix: 24, metric: 100 },
              { dest: '0.0.0.0', prefix: 0, nextHop: '192.168.10.1', metric: 100 },
            ],
          },
          accessPoints: null,
          availableConnections: [],
        },
        {
          path: wlan,
          interface: 'wlan0',
          type: 2,
          state: DeviceState.ACTIVATED,
          hwAddress: '11:22:33:44:55:66',
          ip4Config: {
            // The older tuples do, and write a route on the link with next hop 0.
            addresses: [{ address: '10.0.0.7', prefix: 16, gateway: '10.0.0.1' }],
            gateway: '10.0.0.1',
            nameservers: ['10.0.0.1'],
            domains: [],
            routes: [{ dest: '10.0.0.0', prefix: 16, metric: 600 }],
          },
          accessPoints: [
            {
              ssid: 'Workshop Wi-Fi',
              hwAddress: '00:11:22:33:44:55',
              flags: 1,
              wpaFlags: AP_SEC_KEY_MGMT_PSK,
              rsnFlags: AP_SEC_KEY_MGMT_PSK,
              frequencyMHz: 5180,
              maxBitrateKbps: 54000,
              strengthPercent: 82,
              // NM_802_11_MODE_INFRA
              mode: 2,
            },
            {
              ssid: 'Neighbour',
              hwAddress: '66:77:88:99:aa:bb',
              flags: 1,
              wpaFlags: AP_SEC_KEY_MGMT_PSK,
              rsnFlags: AP_SEC_KEY_MGMT_PSK,
              frequencyMHz: 2412,
              maxBitrateKbps: 11000,
              strengthPercent: 20,
              mode: 2,
            },
          ],
          availableConnections: [{ path: connection, id: 'Workshop Wi-Fi', uuid, type: '802-11-wireless' }],
        },
      ],
    });
  });

  it('follows changes: a device that goes down, a global state that changes', async () => {
    await nm.mock('/org/freedesktop/NetworkManager', 'SetDeviceDisconnected', 's', [eth]);
    await nm.mock('/org/freedesktop/NetworkManager', 'SetGlobalConnectionState', 'u', [50]);
    const reading = await readNetwork({ busAddress: bus.address });
    assert.equal(reading.state, 50);
    assert.equal(reading.devices.find((d) => d.path === eth)?.state, DeviceState.DISCONNECTED);
    assert.equal(reading.devices.find((d) => d.path === wlan)?.state, DeviceState.ACTIVATED);
  });

  it('gives up on a NetworkManager that does not answer, and reads it again once it does', async () => {
    nm.freeze();
    try {
      await assert.rejects(readNetwork({ busAddress: bus.address, timeoutMs: 300 }), (err: Error) => {
        assert.ok(err instanceof TimedOutError, `${err.name}: ${err.message}`);
        assert.match(err.message, /did not answer on D-Bus within 300 ms/);
        return true;
      });
    } finally {
      nm.thaw();
    }
    const reading = await readNetwork({ busAddress: bus.address });
    assert.equal(reading.devices.length, 2);
  });
});

describe('NetworkManager missing', () => {
  it('says that NetworkManager is not on a bus that has no NetworkManager', async () => {
    const bus = await startDbusDaemon();
    try {
      await assert.rejects(readNetwork({ busAddress: bus.address }), (err: Error) => {
        assert.ok(err instanceof UnavailableError, `${err.name}: ${err.message}`);
        assert.match(err.message, /NetworkManager is not available on D-Bus: .*ServiceUnknown/);
        return true;
      });
    } finally {
      await bus.close();
    }
  });

  it('says that there is no bus when the address leads nowhere', async () => {
    const dir = await tempDir('ac-nobus-');
    try {
      await assert.rejects(readNetwork({ busAddress: `unix:path=${join(dir.path, 'no-bus')}` }), UnavailableError);
      await assert.rejects(readNetwork({ busAddress: `unix:path=${join(dir.path, 'no-bus')}` }), /D-Bus connection failed: .*ENOENT/);
      await assert.rejects(readNetwork({ busAddress: 'no address at all' }), /not a D-Bus address/);
    } finally {
      await dir.remove();
    }
  });
});

describe('loading', () => {
  it('loads the D-Bus library only when the network is first read', async () => {
    const nowhere = `unix:path=${join(tmpdir(), `ac-no-such-dir-${process.pid}`, 'bus')}`;
    const script = [
      "import { createRequire } from 'node:module';",
      "const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('/dbus-next/'));",
      "await import('./src/agent.ts');",
      'const before = loaded();',
      "const { readNetwork } = await import('./src/system/network-manager.ts');",
      `await readNetwork({ busAddress: ${JSON.stringify(nowhere)} }).catch(() => {});`,
      'console.log(JSON.stringify({ before, after: loaded() }));',
    ].join('\n');
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('../../', import.meta.url)),
    });
    assert.deepEqual(JSON.parse(stdout.trim()), { before: false, after: true });
  });
});
