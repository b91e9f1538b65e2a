// The network part of `stats` in the Go agent's wire form, from a NetworkManager reading.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deviceStateName, deviceTypeName, globalStateName, toWireNetwork, wifiModeName } from '../../src/commands/stats-network.js';
import type { NetworkReading } from '../../src/system/network-manager.js';

describe('NetworkManager enums by their Go names', () => {
  it('names enum values as the Go agent did, and unknown ones by number', () => {
    assert.equal(deviceTypeName(1), 'NmDeviceTypeEthernet');
    assert.equal(deviceTypeName(2), 'NmDeviceTypeWifi');
    assert.equal(deviceTypeName(32), 'NmDeviceTypeLoopback');
    assert.equal(deviceTypeName(99), 'NmDeviceType(99)');
    assert.equal(deviceStateName(100), 'NmDeviceStateActivated');
    assert.equal(deviceStateName(60), 'NmDeviceStateNeed_auth');
    assert.equal(deviceStateName(15), 'NmDeviceState(15)');
    assert.equal(globalStateName(70), 'NmStateConnectedGlobal');
    assert.equal(globalStateName(50), 'NmStateConnectedLocal');
    assert.equal(wifiModeName(2), 'Nm80211ModeInfra');
    assert.equal(wifiModeName(7), 'Nm80211Mode(7)');
  });
});

describe('toWireNetwork', () => {
  const eth = '/org/freedesktop/NetworkManager/Devices/eth0';
  const wlan = '/org/freedesktop/NetworkManager/Devices/wlan0';
  const connection = '/org/freedesktop/NetworkManager/Settings/Connection/1';
  const uuid = '0c9a4b3e-6a0e-4d7c-9a55-3f1f4b8e2d11';
  const ap = { flags: 1, wpaFlags: 256, rsnFlags: 256, mode: 2 };

  // A wired device configured through NetworkManager 1.x's *Data properties, a Wi-Fi one through
  // the older uint32 tuples (per-address gateways, next hop 0 on the link).
  const reading: NetworkReading = {
    state: 70,
    devices: [
      {
        path: eth,
        interface: 'eth0',
        type: 1,
        state: 100,
        hwAddress: '78:DD:08:D2:3D:43',
        ip4Config: {
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
        state: 100,
        hwAddress: '11:22:33:44:55:66',
        ip4Config: {
          addresses: [{ address: '10.0.0.7', prefix: 16, gateway: '10.0.0.1' }],
          gateway: '10.0.0.1',
          nameservers: ['10.0.0.1'],
          domains: [],
          routes: [{ dest: '10.0.0.0', prefix: 16, metric: 600 }],
        },
        accessPoints: [
          { ssid: 'Workshop Wi-Fi', hwAddress: '00:11:22:33:44:55', ...ap, frequencyMHz: 5180, maxBitrateKbps: 54000, strengthPercent: 82 },
          { ssid: 'Neighbour', hwAddress: '66:77:88:99:aa:bb', ...ap, frequencyMHz: 2412, maxBitrateKbps: 11000, strengthPercent: 20 },
        ],
        availableConnections: [{ path: connection, id: 'Workshop Wi-Fi', uuid, type: '802-11-wireless' }],
      },
    ],
  };

  it('gives the Go agent\'s JSON, field order included', () => {
    // Written out as the agent answered before NetworkManager's reading had types of its own.
    const expected = {
      Devices: [
        {
          Path: eth,
          Interface: 'eth0',
          DeviceType: 'NmDeviceTypeEthernet',
          State: 'NmDeviceStateActivated',
          HWAddress: '78:DD:08:D2:3D:43',
          IP4Config: {
            Addresses: [
              { Address: '192.168.10.20', Prefix: 24, Gateway: '192.168.10.1' },
              { Address: '10.1.2.3', Prefix: 8, Gateway: '0.0.0.0' },
            ],
            Gateway: '192.168.10.1',
            Nameservers: ['192.168.10.1', '9.9.9.9'],
            Domains: ['lab.example'],
            Routes: [
              { Route: '192.168.10.0', Prefix: 24, NextHop: '0.0.0.0', Metric: 100 },
              { Route: '0.0.0.0', Prefix: 0, NextHop: '192.168.10.1', Metric: 100 },
            ],
          },
          AccessPoints: null,
          AvailableConnections: [],
        },
        {
          Path: wlan,
          Interface: 'wlan0',
          DeviceType: 'NmDeviceTypeWifi',
          State: 'NmDeviceStateActivated',
          HWAddress: '11:22:33:44:55:66',
          IP4Config: {
            Addresses: [{ Address: '10.0.0.7', Prefix: 16, Gateway: '10.0.0.1' }],
            Gateway: '10.0.0.1',
            Nameservers: ['10.0.0.1'],
            Domains: [],
            Routes: [{ Route: '10.0.0.0', Prefix: 16, NextHop: '0.0.0.0', Metric: 600 }],
          },
          AccessPoints: [
            {
              SSID: 'Workshop Wi-Fi',
              HWAddress: '00:11:22:33:44:55',
              Flags: 1,
              WPAFlags: 256,
              RSNFlags: 256,
              Frequency: 5180,
              MaxBitrate: 54000,
              Strength: 82,
              Mode: 'Nm80211ModeInfra',
            },
            {
              SSID: 'Neighbour',
              HWAddress: '66:77:88:99:aa:bb',
              Flags: 1,
              WPAFlags: 256,
              RSNFlags: 256,
              Frequency: 2412,
              MaxBitrate: 11000,
              Strength: 20,
              Mode: 'Nm80211ModeInfra',
            },
          ],
          AvailableConnections: [{ Path: connection, Id: 'Workshop Wi-Fi', Uuid: uuid, Type: '802-11-wireless' }],
        },
      ],
      Status: 'NmStateConnectedGlobal',
    };
    assert.equal(JSON.stringify(toWireNetwork(reading)), JSON.stringify(expected));
  });

  it('writes "0.0.0.0" on every address when the configuration has no gateway', () => {
    const wire = toWireNetwork({
      state: 20,
      devices: [
        {
          ...reading.devices[0]!,
          ip4Config: { addresses: [{ address: '169.254.3.4', prefix: 16 }], gateway: '', nameservers: [], domains: [], routes: [] },
        },
      ],
    });
    assert.deepEqual(wire.Devices[0]?.IP4Config?.Addresses, [{ Address: '169.254.3.4', Prefix: 16, Gateway: '0.0.0.0' }]);
    assert.equal(wire.Devices[0]?.IP4Config?.Gateway, '');
    assert.equal(wire.Status, 'NmStateDisconnected');
  });

  it('gives null for a device without an IPv4 configuration, and no devices as an empty list', () => {
    const wire = toWireNetwork({ state: 70, devices: [{ ...reading.devices[1]!, state: 30, ip4Config: null, accessPoints: [] }] });
    assert.equal(wire.Devices[0]?.IP4Config, null);
    assert.deepEqual(wire.Devices[0]?.AccessPoints, []);
    assert.equal(wire.Devices[0]?.State, 'NmDeviceStateDisconnected');
    assert.deepEqual(toWireNetwork({ state: 0, devices: [] }), { Devices: [], Status: 'NmStateUnknown' });
  });
});
