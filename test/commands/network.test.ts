// wifi and ethernet through a real mosquitto and the real agent, with NetworkManager's D-Bus API
// served by python3-dbusmock's networkmanager template on a private bus: the profiles the agent
// makes are read back from the mock, and the mock's errors come back as the answers' reasons.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { decodeBody, type NetworkConnectionResult } from '../../src/api.js';
import { ip4FromUint32 } from '../../src/system/network-manager.js';
import { WritableMount } from '../../src/system/ro-fs.js';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import { AP_SEC_KEY_MGMT_PSK, DeviceState, startDbusDaemon, startNetworkManagerMock, type DbusDaemon, type NetworkManagerMock } from '../helpers/dbusmock.js';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);
const NM = 'org.freedesktop.NetworkManager';
const NM_PATH = '/org/freedesktop/NetworkManager';
const ACTIVE_IFACE = `${NM}.Connection.Active`;

/** Sent as raw JSON: the client itself would refuse the bad requests the agent must answer. */
async function call(t: TestAgent, command: 'wifi' | 'ethernet', request: unknown): Promise<NetworkConnectionResult> {
  const reply = await t.client.callRaw(command, JSON.stringify(request), 20_000);
  assert.ok(reply.ok, `${command} answered ERROR: ${reply.ok ? '' : reply.message}`);
  return decodeBody(reply.body) as NetworkConnectionResult;
}

async function refused(t: TestAgent, command: 'wifi' | 'ethernet', request: unknown): Promise<string> {
  const reply = await t.client.callRaw(command, JSON.stringify(request), 20_000);
  assert.ok(!reply.ok, `${command} succeeded: ${reply.ok ? reply.body : ''}`);
  return reply.message;
}

const bytes = (value: unknown) => Buffer.from(value as Buffer).toString('utf8');

const passwords = ['correct horse battery', 'open sesame 42', 'a'.repeat(8) + '"quoted"', 'Wr0ng-but-long-enough', 'Sh0rt!pw'];

describe('wifi and ethernet over MQTT, NetworkManager on dbusmock', () => {
  let broker: Broker;
  let bus: DbusDaemon;
  let nm: NetworkManagerMock;
  let t: TestAgent;
  let eth: string;
  let wlan: string;
  let cafe: string;
  let labProfile: string;

  before(async () => {
    [broker, bus] = await Promise.all([startMosquitto(), startDbusDaemon()]);
    nm = await startNetworkManagerMock(bus);
    await nm.keepAddedSettings();
    eth = await nm.addEthernetDevice('eth0', 'enp1s0', DeviceState.ACTIVATED);
    wlan = await nm.addWiFiDevice('wlan0', 'wlp2s0', DeviceState.DISCONNECTED);
    const ap = { hwAddress: 'de:ad:be:ef:00:01', mode: 2, frequency: 2437, maxBitrate: 130000, strength: 67, security: AP_SEC_KEY_MGMT_PSK };
    cafe = await nm.addAccessPoint(wlan, 'ap0', { ...ap, ssid: 'Café Wi-Fi' });
    await nm.addAccessPoint(wlan, 'ap1', { ...ap, ssid: 'Arduino Lab', hwAddress: 'de:ad:be:ef:00:02' });
    labProfile = await nm.addWiFiConnection(wlan, 'lab', 'Arduino Lab');
    t = await startTestAgent(broker.url, { debug_mqtt: true }, { featureOptions: { network: { systemBusAddress: bus.address } } });
  });
  after(async () => {
    await t?.stop();
    await nm?.stop();
    await bus?.close();
    await broker?.close();
  });

  it('wifi adds a WPA profile for the access point and activates it on the Wi-Fi device', async () => {
    const answer = await call(t, 'wifi', { ssid: 'Café Wi-Fi', password: passwords[0] });
    assert.equal(answer.action, 'added');
    assert.equal(answer.interface, 'wlp2s0');
    const settings = await nm.connectionSettings(answer.connection);
    assert.equal(settings.connection?.id, 'Café Wi-Fi');
    assert.equal(settings.connection?.type, '802-11-wireless');
    assert.equal(settings.connection?.['interface-name'], 'wlp2s0');
    assert.equal(bytes(settings['802-11-wireless']?.ssid), 'Café Wi-Fi');
    assert.equal(settings['802-11-wireless']?.mode, 'infrastructure');
    assert.equal(settings['802-11-wireless-security']?.['key-mgmt'], 'wpa-psk');
    assert.equal(settings['802-11-wireless-security']?.psk, passwords[0]);
    const active = await nm.properties(answer.active_connection, ACTIVE_IFACE);
    assert.equal(active.Connection, answer.connection);
    assert.deepEqual(active.Devices, [wlan]);
    assert.equal(active.SpecificObject, cafe);
  });

  it('wifi updates the saved profile of the same SSID and activates it again', async () => {
    const answer = await call(t, 'wifi', { ssid: 'Arduino Lab', password: passwords[1] });
    assert.equal(answer.action, 'updated');
    assert.equal(answer.connection, labProfile);
    const settings = await nm.connectionSettings(labProfile);
    assert.equal(settings['802-11-wireless-security']?.psk, passwords[1]);
    assert.equal(settings['802-11-wireless-security']?.['key-mgmt'], 'wpa-psk');
    assert.equal(settings.connection?.['interface-name'], 'wlp2s0');
    const active = await nm.properties(answer.active_connection, ACTIVE_IFACE);
    assert.equal(active.Connection, labProfile);
  });

  it('wifi refuses an SSID nobody broadcasts unless it is hidden, and makes an open profile without a password', async () => {
    assert.match(await refused(t, 'wifi', { ssid: 'Nowhere', password: passwords[2] }), /^no Wi-Fi network "Nowhere" in range of wlp2s0 .*"hidden": true/);
    const answer = await call(t, 'wifi', { ssid: 'Nowhere', password: passwords[2], hidden: true });
    assert.equal(answer.action, 'added');
    const settings = await nm.connectionSettings(answer.connection);
    assert.equal(settings['802-11-wireless']?.hidden, true);
    assert.equal(settings['802-11-wireless-security']?.psk, passwords[2]);
    assert.equal((await nm.properties(answer.active_connection, ACTIVE_IFACE)).SpecificObject, '/');

    const open = await call(t, 'wifi', { ssid: 'Nowhere open', password: '', hidden: true });
    assert.equal((await nm.connectionSettings(open.connection))['802-11-wireless-security'], undefined);
  });

  it('ethernet: DHCP first, then a static address on the same profile, then the Go agent shape', async () => {
    const auto = await call(t, 'ethernet', { method: 'auto', dns: ['9.9.9.9'] });
    assert.equal(auto.action, 'added');
    assert.equal(auto.interface, 'enp1s0');
    let settings = await nm.connectionSettings(auto.connection);
    assert.equal(settings.connection?.id, 'arduino-connector enp1s0');
    assert.equal(settings.connection?.type, '802-3-ethernet');
    assert.equal(settings.connection?.['interface-name'], 'enp1s0');
    assert.equal(settings.ipv4?.method, 'auto');
    assert.deepEqual((settings.ipv4?.dns as number[]).map((n) => ip4FromUint32(n)), ['9.9.9.9']);
    assert.equal(settings.ipv4?.['ignore-auto-dns'], true);
    assert.deepEqual((await nm.properties(auto.active_connection, ACTIVE_IFACE)).Devices, [eth]);

    const manual = await call(t, 'ethernet', {
      method: 'manual',
      address: '192.168.10.20',
      netmask: '255.255.255.0',
      gateway: '192.168.10.1',
      dns: ['192.168.10.1', '1.1.1.1'],
      proxy: { method: 'auto', pac_url: 'http://192.168.10.1/proxy.pac' },
    });
    assert.equal(manual.action, 'updated');
    assert.equal(manual.connection, auto.connection);
    settings = await nm.connectionSettings(manual.connection);
    assert.equal(settings.ipv4?.method, 'manual');
    assert.deepEqual(settings.ipv4?.['address-data'], [{ address: '192.168.10.20', prefix: 24 }]);
    assert.equal(settings.ipv4?.gateway, '192.168.10.1');
    assert.deepEqual((settings.ipv4?.dns as number[]).map((n) => ip4FromUint32(n)), ['192.168.10.1', '1.1.1.1']);
    assert.equal(settings.proxy?.method, 1);
    assert.equal(settings.proxy?.['pac-url'], 'http://192.168.10.1/proxy.pac');

    const go = await call(t, 'ethernet', { Manual: true, Config: { Ip: '10.1.2.3', Prefix: '8', Gateway: '10.0.0.1', Dns_server: '10.0.0.2', Http_proxy: '', Https_proxy: '' } });
    assert.equal(go.connection, auto.connection);
    settings = await nm.connectionSettings(go.connection);
    assert.deepEqual(settings.ipv4?.['address-data'], [{ address: '10.1.2.3', prefix: 8 }]);
    assert.equal(settings.ipv4?.gateway, '10.0.0.1');
    assert.deepEqual((settings.ipv4?.dns as number[]).map((n) => ip4FromUint32(n)), ['10.0.0.2']);
  });

  it("answers NetworkManager's own error, with its D-Bus name, and a device that is not there", async () => {
    await nm.addMethod(
      NM_PATH,
      NM,
      'AddAndActivateConnection',
      'a{sa{sv}}oo',
      'oo',
      "raise dbus.exceptions.DBusException('802-11-wireless-security.psk: property is invalid', name='org.freedesktop.NetworkManager.Settings.InvalidConnection')",
    );
    try {
      // A profile of this SSID exists already: it is updated, and AddAndActivateConnection is not asked.
      assert.equal((await call(t, 'wifi', { ssid: 'Café Wi-Fi', password: passwords[3], interface: 'wlp2s0' })).action, 'updated');
      const fresh = await refused(t, 'wifi', { ssid: 'Nowhere else', password: passwords[3], hidden: true });
      assert.equal(fresh, '802-11-wireless-security.psk: property is invalid (org.freedesktop.NetworkManager.Settings.InvalidConnection)');
    } finally {
      await nm.keepAddedSettings();
    }
    assert.equal(await refused(t, 'ethernet', { method: 'auto', interface: 'eth9' }), 'NetworkManager has no Ethernet device named "eth9"');
  });

  it('refuses bad requests before NetworkManager sees them', async () => {
    const cases: [command: 'wifi' | 'ethernet', request: unknown, answer: RegExp][] = [
      ['wifi', { ssid: '' }, /field "ssid": must not be empty/],
      ['wifi', { ssid: 'é'.repeat(17), password: passwords[0] }, /field "ssid": 34 bytes in UTF-8, an SSID has at most 32/],
      ['wifi', { ssid: 'x', password: 'short' }, /field "password": a WPA passphrase has 8 to 63 characters, this has 5/],
      ['wifi', { ssid: 'x', password: 'g'.repeat(64) }, /64 characters must be hex digits/],
      ['ethernet', { method: 'manual', address: '192.168.1.300', prefix: 24 }, /field "address": "192.168.1.300" is not an IPv4 address/],
      ['ethernet', { method: 'manual', address: '192.168.1.20', netmask: '255.0.255.0' }, /field "netmask": .* is not a netmask/],
      ['ethernet', { method: 'manual', address: '192.168.1.20', prefix: 24, gateway: '192.168.2.1' }, /field "gateway": 192.168.2.1 is not a host of the subnet 192.168.1.0\/24/],
      ['ethernet', { method: 'manual', address: '192.168.1.20', prefix: 24, dns: ['8.8.8'] }, /field "dns"\[0\]: "8.8.8" is not an IPv4 address/],
      ['ethernet', { method: 'auto', proxy: { method: 'manual' } }, /field "proxy".method: NetworkManager's proxy setting has no manual proxy/],
    ];
    for (const [command, request, answer] of cases) assert.match(await refused(t, command, request), answer, JSON.stringify(request));
  });

  it('keeps every password out of the log, while -debug-mqtt logs the requests', async () => {
    // A password without quotes: V8's JSON error quotes the text around it.
    const reply = await t.client.callRaw('wifi', `{"ssid":"x","password":${passwords[4]}}`, 20_000);
    assert.ok(!reply.ok);
    const log = t.logs.join('\n');
    assert.match(log, /MQTT IN .*wifi\/post .*"password":"\*\*\*"/);
    for (const password of passwords) assert.ok(!log.includes(password), `the log holds ${password}`);
  });
});

describe('wifi and ethernet while NetworkManager comes and goes', () => {
  let broker: Broker;
  let bus: DbusDaemon;
  let nm: NetworkManagerMock | undefined;
  let t: TestAgent;

  before(async () => {
    [broker, bus] = await Promise.all([startMosquitto(), startDbusDaemon()]);
    t = await startTestAgent(broker.url, {}, { featureOptions: { network: { systemBusAddress: bus.address, timeoutMs: 1000 } } });
  });
  after(async () => {
    await t?.stop();
    await nm?.stop();
    await bus?.close();
    await broker?.close();
  });

  it('answers network unavailable while it is missing, and every other family still answers', async () => {
    assert.match(await refused(t, 'wifi', { ssid: 'x', password: passwords[0] }), /^network unavailable: NetworkManager is not available on D-Bus: .*ServiceUnknown/);
    assert.match(await refused(t, 'ethernet', { method: 'auto' }), /^network unavailable: NetworkManager is not available on D-Bus/);
    assert.ok((await t.client.call('status', {}, 20_000)).ok);
    assert.ok(t.agent.serving().includes('network'));
  });

  it('serves from the next request once it is there, and answers a time-out while it hangs', async () => {
    nm = await startNetworkManagerMock(bus);
    await nm.keepAddedSettings();
    await nm.addEthernetDevice('eth0', 'eth0', DeviceState.ACTIVATED);
    assert.equal((await call(t, 'ethernet', { method: 'auto' })).interface, 'eth0');
    nm.freeze();
    try {
      assert.equal(await refused(t, 'ethernet', { method: 'auto' }), 'NetworkManager did not answer on D-Bus within 1000 ms');
    } finally {
      nm.thaw();
    }
    assert.equal((await call(t, 'ethernet', { method: 'auto' })).action, 'updated');
  });
});

describe('wifi under -check_ro_fs', () => {
  let broker: Broker;
  let bus: DbusDaemon;
  let nm: NetworkManagerMock;
  let t: TestAgent;
  let dir: { path: string; remove(): Promise<void> };

  before(async () => {
    dir = await tempDir('ac-nm-rofs-');
    await run('mount', ['-t', 'tmpfs', '-o', 'size=1m,ro', 'tmpfs', dir.path]);
    [broker, bus] = await Promise.all([startMosquitto(), startDbusDaemon()]);
    nm = await startNetworkManagerMock(bus);
    const wlan = await nm.addWiFiDevice('wlan0', 'wlp2s0', DeviceState.DISCONNECTED);
    await nm.addAccessPoint(wlan, 'ap0', { ssid: 'Lab', hwAddress: 'de:ad:be:ef:00:01', mode: 2, frequency: 2437, maxBitrate: 1, strength: 50, security: AP_SEC_KEY_MGMT_PSK });
    // NetworkManager writes the profile under /etc: this one writes it where the test looks.
    await nm.addMethod(
      NM_PATH,
      NM,
      'AddAndActivateConnection',
      'a{sa{sv}}oo',
      'oo',
      [
        `open('${join(dir.path, 'profile')}', 'w').write(str(args[0]['connection']['id']))`,
        `conn = objects['${NM_PATH}/Settings'].SettingsAddConnection(args[0])`,
        'ret = (conn, self.activate_connection(self, conn, args[1], args[2]))',
      ].join('\n'),
    );
    t = await startTestAgent(
      broker.url,
      { check_ro_fs: true },
      { featureOptions: { network: { systemBusAddress: bus.address } }, writable: new WritableMount({ enabled: true, mountPoint: dir.path }) },
    );
  });
  after(async () => {
    await t?.stop();
    await nm?.stop();
    await bus?.close();
    await broker?.close();
    await run('umount', [dir.path]).catch(() => {});
    await dir?.remove();
  });

  it('changes the profile inside the read-write window and leaves the file system read-only', async () => {
    await call(t, 'wifi', { ssid: 'Lab', password: passwords[0] });
    assert.equal(await readFile(join(dir.path, 'profile'), 'utf8'), 'Lab');
    const { stdout } = await run('findmnt', ['-n', '-o', 'OPTIONS', '--mountpoint', dir.path]);
    assert.ok(stdout.trim().split(',').includes('ro'), stdout);
  });
});
