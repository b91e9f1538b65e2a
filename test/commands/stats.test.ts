// `stats` through a real mosquitto and the real agent, with NetworkManager served by dbusmock on
// a private bus. The agent builds StatsFeature without a bus address, so it finds the bus the way it
// does on a device: DBUS_SYSTEM_BUS_ADDRESS (this file runs in its own process).

import assert from 'node:assert/strict';
import { totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { baseTopic, decodeBody, type StatsBody } from '../../src/api.js';
import { ConnectorClient } from '../../src/client.js';
import { StatsFeature, statsCommands } from '../../src/commands/stats.js';
import { serveFamily } from '../../src/feature.js';
import { silentLogger } from '../../src/log.js';
import { MqttConnection } from '../../src/mqtt/connection.js';
import { CommandRouter } from '../../src/mqtt/router.js';
import { WritableMount } from '../../src/system/ro-fs.js';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import { AP_SEC_KEY_MGMT_PSK, DeviceState, startDbusDaemon, startNetworkManagerMock, type DbusDaemon, type NetworkManagerMock } from '../helpers/dbusmock.js';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { waitFor } from '../helpers/wait.js';

async function stats(t: TestAgent): Promise<StatsBody> {
  const reply = await t.client.call('stats', {}, 20_000);
  assert.ok(reply.ok, `stats answered ${!reply.ok ? reply.message : ''}`);
  return decodeBody(reply.body) as StatsBody;
}

/** Memory and disks are in every answer, whatever happened to the network part. */
function assertMemoryAndDisk(body: StatsBody): void {
  assert.equal(body.memory.TotalMem * 1024, totalmem());
  assert.ok(body.memory.FreeMem > 0 && body.memory.AvailableMem > 0);
  const root = body.disk.find((d) => d.MountPoint === '/');
  assert.ok(root, 'the root file system is listed');
  assert.ok(root.DiskSize > 0 && root.AvailableSpace <= root.DiskSize);
}

describe('stats over MQTT', () => {
  let broker: Broker;
  let bus: DbusDaemon;
  let nm: NetworkManagerMock | undefined;
  let t: TestAgent;
  let eth: string;
  let wlan: string;
  const savedAddress = process.env.DBUS_SYSTEM_BUS_ADDRESS;

  before(async () => {
    [broker, bus] = await Promise.all([startMosquitto(), startDbusDaemon()]);
    process.env.DBUS_SYSTEM_BUS_ADDRESS = bus.address;
    nm = await startNetworkManagerMock(bus);
    eth = await nm.addEthernetDevice('eth0', 'enp1s0', DeviceState.ACTIVATED);
    wlan = await nm.addWiFiDevice('wlan0', 'wlp2s0', DeviceState.DISCONNECTED);
    await nm.addAccessPoint(wlan, 'ap0', {
      ssid: 'Arduino Lab',
      hwAddress: 'de:ad:be:ef:00:01',
      mode: 2,
      frequency: 2437,
      maxBitrate: 130000,
      strength: 67,
      security: AP_SEC_KEY_MGMT_PSK,
    });
    await nm.addWiFiConnection(wlan, 'lab', 'Arduino Lab');
    t = await startTestAgent(broker.url);
  });
  after(async () => {
    await t?.stop();
    await nm?.stop();
    await bus?.close();
    await broker?.close();
    if (savedAddress === undefined) delete process.env.DBUS_SYSTEM_BUS_ADDRESS;
    else process.env.DBUS_SYSTEM_BUS_ADDRESS = savedAddress;
  });
  beforeEach(() => {
    process.env.DBUS_SYSTEM_BUS_ADDRESS = bus.address;
  });

  it('answers memory, disks and the Ethernet and Wi-Fi devices with the access point', async () => {
    const body = await stats(t);
    assertMemoryAndDisk(body);
    assert.equal(body.errors, undefined);
    assert.ok(body.network);
    assert.equal(body.network.Status, 'NmStateConnectedGlobal');
    const wired = body.network.Devices.find((d) => d.Path === eth);
    const wifi = body.network.Devices.find((d) => d.Path === wlan);
    assert.deepEqual(
      { Interface: wired?.Interface, DeviceType: wired?.DeviceType, State: wired?.State, AccessPoints: wired?.AccessPoints },
      { Interface: 'enp1s0', DeviceType: 'NmDeviceTypeEthernet', State: 'NmDeviceStateActivated', AccessPoints: null },
    );
    assert.equal(wifi?.Interface, 'wlp2s0');
    assert.equal(wifi?.DeviceType, 'NmDeviceTypeWifi');
    assert.equal(wifi?.State, 'NmDeviceStateDisconnected');
    assert.deepEqual(
      wifi?.AccessPoints?.map((ap) => [ap.SSID, ap.HWAddress, ap.Frequency, ap.Strength, ap.Mode]),
      [['Arduino Lab', 'de:ad:be:ef:00:01', 2437, 67, 'Nm80211ModeInfra']],
    );
    assert.deepEqual(
      wifi?.AvailableConnections.map((c) => [c.Id, c.Type]),
      [['Arduino Lab', '802-11-wireless']],
    );
  });

  it('answers many requests at once, each with the network', async () => {
    const bodies = await Promise.all(Array.from({ length: 8 }, () => stats(t)));
    for (const body of bodies) assert.equal(body.network?.Devices.length, 2);
  });

  it('answers without the network, and says why, while NetworkManager hangs', async () => {
    nm!.freeze();
    try {
      const body = await stats(t);
      assertMemoryAndDisk(body);
      assert.equal(body.network, null);
      assert.match(body.errors?.network ?? '', /did not answer on D-Bus within \d+ ms/);
    } finally {
      nm!.thaw();
    }
    assert.equal((await stats(t)).network?.Devices.length, 2);
    assert.ok(t.logs.some((l) => /NetworkManager answers again/.test(l)));
  });

  it('answers without the network when the bus has no NetworkManager, and logs the reason once', async () => {
    await nm!.stop();
    nm = undefined;
    const first = await stats(t);
    const second = await stats(t);
    for (const body of [first, second]) {
      assertMemoryAndDisk(body);
      assert.equal(body.network, null);
      assert.match(body.errors?.network ?? '', /NetworkManager is not available on D-Bus: .*ServiceUnknown/);
    }
    assert.equal(t.logs.filter((l) => / WARN .*stats without network: .*ServiceUnknown/.test(l)).length, 1);
  });

  it('answers without the network when there is no D-Bus at all', async () => {
    process.env.DBUS_SYSTEM_BUS_ADDRESS = `unix:path=${join(tmpdir(), `ac-no-bus-${process.pid}`, 'bus')}`;
    const body = await stats(t);
    assertMemoryAndDisk(body);
    assert.equal(body.network, null);
    assert.match(body.errors?.network ?? '', /D-Bus connection failed: .*ENOENT/);
  });

  it('refuses a malformed request and keeps answering', async () => {
    const bad = await t.client.callRaw('stats', '{"memory":', 10_000);
    assert.equal(bad.ok, false);
    assert.equal((await t.client.call('status', {})).ok, true);
  });
});

describe('stats started alone', () => {
  it('serves through its own MQTT session and router, with the bus address given to it', async () => {
    const [broker, bus] = await Promise.all([startMosquitto(), startDbusDaemon()]);
    const nm = await startNetworkManagerMock(bus);
    const deviceId = `stats-alone-${process.pid}`;
    const base = baseTopic('$aws/things/{id}', deviceId);
    const connection = new MqttConnection({ url: broker.url, clientId: deviceId }, silentLogger);
    let client: ConnectorClient | undefined;
    try {
      await nm.addEthernetDevice('eth9', 'eth9', DeviceState.ACTIVATED);
      // The environment points elsewhere: the option must win.
      process.env.DBUS_SYSTEM_BUS_ADDRESS = `unix:path=${join(tmpdir(), `ac-no-bus-${process.pid}`, 'bus')}`;
      const router = new CommandRouter({ bus: connection, base, log: silentLogger });
      const deps = { bus: connection, base, log: silentLogger, writable: new WritableMount({ enabled: false }) };
      const feature = new StatsFeature(deps, { systemBusAddress: bus.address });
      await feature.start();
      router.serve(serveFamily('stats', feature, statsCommands));
      assert.deepEqual(router.serving(), ['stats']);
      connection.start();
      await waitFor(() => connection.connected, 'the MQTT session');
      await router.start();
      client = await ConnectorClient.connect({ broker: broker.url, deviceId });
      const reply = await client.call('stats', {}, 20_000);
      assert.ok(reply.ok);
      const body = decodeBody(reply.body) as StatsBody;
      assert.deepEqual(
        body.network?.Devices.map((d) => [d.Interface, d.DeviceType]),
        [['eth9', 'NmDeviceTypeEthernet']],
      );
      await feature.stop();
      await router.stop();
    } finally {
      delete process.env.DBUS_SYSTEM_BUS_ADDRESS;
      await client?.close();
      await connection.stop();
      await nm.stop();
      await bus.close();
      await broker.close();
    }
  });
});
