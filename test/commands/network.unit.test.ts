// The fast tier of wifi and ethernet: every validation rule, the settings NetworkManager is sent,
// the redaction of their passwords, and the family's answer when there is no bus at all.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ethernetSettingsOf, requestSchemas } from '../../src/api.js';
import { prefixOfNetmask } from '../../src/api/ipv4.js';
import { ValidationError } from '../../src/api/schema.js';
import { redactPayload } from '../../src/mqtt/redact.js';
import { decodeRequest } from '../../src/mqtt/router.js';
import { ip4FromUint32 } from '../../src/system/network-manager.js';
import { ip4ToUint32, wantsSae, wifiSettings, wiredSettings } from '../../src/system/network-manager-settings.js';
import { startMemoryAgent } from '../helpers/memory-agent.js';
import { tempDir } from '../helpers/tmp.js';

const wifi = (request: unknown) => requestSchemas.wifi.parse(request, '');
const ethernet = (request: unknown) => {
  const parsed = requestSchemas.ethernet.parse(request, '');
  // The schema keeps the request as it was sent (a client sends what it validated).
  assert.deepEqual(parsed, requestSchemas.ethernet.parse(JSON.parse(JSON.stringify(parsed)), ''));
  return ethernetSettingsOf(parsed);
};

describe('wifi requests', () => {
  it('takes an SSID of 1 to 32 bytes in UTF-8', () => {
    assert.equal(wifi({ ssid: 'x'.repeat(32) }).ssid, 'x'.repeat(32));
    assert.equal(wifi({ ssid: 'é'.repeat(16) }).ssid, 'é'.repeat(16));
    assert.throws(() => wifi({ ssid: '' }), /field "ssid": must not be empty/);
    assert.throws(() => wifi({ ssid: 'é'.repeat(17) }), /field "ssid": 34 bytes in UTF-8, an SSID has at most 32/);
    assert.throws(() => wifi({ ssid: 'x'.repeat(33) }), /field "ssid": longer than 32 characters/);
    assert.throws(() => wifi({ password: '12345678' }), /field "ssid": missing/);
  });

  it('takes a WPA passphrase of 8 to 63 printable ASCII characters, or 64 hex digits, and never repeats it', () => {
    for (const ok of ['12345678', 'p'.repeat(63), ' !~ spaces and symbols ~! ', 'aB3'.repeat(21) + 'F']) {
      assert.equal(wifi({ ssid: 's', password: ok }).password, ok);
    }
    const cases: [string, RegExp][] = [
      ['seven77', /8 to 63 characters, this has 7/],
      ['z'.repeat(64), /64 characters must be hex digits/],
      ['x'.repeat(65), /longer than 64 characters/],
      ['passwörd-with-umlaut', /printable ASCII characters only/],
      ['tab\there is bad', /printable ASCII characters only/],
    ];
    for (const [bad, message] of cases) {
      assert.throws(() => wifi({ ssid: 's', password: bad }), (err: Error) => {
        assert.ok(err instanceof ValidationError);
        assert.match(err.message, message);
        assert.ok(!err.message.includes(bad), `the error repeats the password: ${err.message}`);
        return true;
      });
    }
  });

  it('takes an empty password (an open network), and the optional fields in any case', () => {
    assert.deepEqual(wifi({ ssid: 'cafe', password: '' }), { ssid: 'cafe', password: '' });
    assert.deepEqual(wifi({ SSID: 'cafe', Hidden: true, Interface: 'wlan0' }), { ssid: 'cafe', hidden: true, interface: 'wlan0' });
    assert.throws(() => wifi({ ssid: 'x', interface: 'wlan0/../x' }), /field "interface": must be an interface name/);
  });
});

describe('ethernet requests', () => {
  it('reads DHCP, with or without DNS servers', () => {
    assert.throws(() => ethernet({}), /field "method": missing \(auto for DHCP, or manual with an address\)/);
    assert.deepEqual(ethernet({ method: 'auto' }), { ipv4: { method: 'auto', dns: [] } });
    assert.deepEqual(ethernet({ method: 'auto', dns: ['1.1.1.1'], interface: 'eth0' }), { ipv4: { method: 'auto', dns: ['1.1.1.1'] }, interface: 'eth0' });
    assert.throws(() => ethernet({ method: 'auto', address: '10.0.0.2' }), /field "address": only with method manual/);
    assert.throws(() => ethernet({ method: 'auto', gateway: '10.0.0.1' }), /field "gateway": only with method manual/);
  });

  it('reads a static address with a prefix or a netmask, which must agree', () => {
    const expected = { ipv4: { method: 'manual', address: '192.168.1.20', prefix: 24, gateway: '192.168.1.1', dns: ['192.168.1.1'] } };
    assert.deepEqual(ethernet({ method: 'manual', address: '192.168.1.20', prefix: 24, gateway: '192.168.1.1', dns: ['192.168.1.1'] }), expected);
    assert.deepEqual(ethernet({ method: 'manual', address: '192.168.1.20', netmask: '255.255.255.0', gateway: '192.168.1.1', dns: ['192.168.1.1'] }), expected);
    assert.throws(() => ethernet({ method: 'manual', address: '192.168.1.20', prefix: 16, netmask: '255.255.255.0' }), /netmask": \/24 disagrees with prefix 16/);
    assert.throws(() => ethernet({ method: 'manual' }), /field "address": missing/);
    assert.throws(() => ethernet({ method: 'manual', address: '192.168.1.20' }), /field "prefix": missing \(method manual needs a prefix or a netmask\)/);
    assert.throws(() => ethernet({ method: 'manual', address: '192.168.1.20', prefix: 33 }), /field "prefix": must be at most 32/);
  });

  it('refuses malformed and unusable addresses', () => {
    const cases: [unknown, RegExp][] = [
      [{ method: 'manual', address: '192.168.1', prefix: 24 }, /"192.168.1" is not an IPv4 address/],
      [{ method: 'manual', address: '192.168.01.2', prefix: 24 }, /not an IPv4 address \(four numbers 0-255, no leading zeros\)/],
      [{ method: 'manual', address: ' 10.0.0.1', prefix: 8 }, /is not an IPv4 address/],
      [{ method: 'manual', address: '127.0.0.5', prefix: 8 }, /"127.0.0.5" cannot be a device's address/],
      [{ method: 'manual', address: '224.0.0.1', prefix: 4 }, /cannot be a device's address/],
      [{ method: 'manual', address: '192.168.1.0', prefix: 24 }, /192.168.1.0 is the network address of 192.168.1.0\/24/],
      [{ method: 'manual', address: '192.168.1.255', prefix: 24 }, /is the broadcast address of 192.168.1.0\/24/],
      [{ method: 'manual', address: '192.168.1.20', netmask: '255.0.255.0' }, /field "netmask": "255.0.255.0" is not a netmask/],
      [{ method: 'manual', address: '192.168.1.20', prefix: 24, gateway: '192.168.2.1' }, /field "gateway": 192.168.2.1 is not a host of the subnet 192.168.1.0\/24/],
      [{ method: 'manual', address: '192.168.1.20', prefix: 24, gateway: '192.168.1.20' }, /field "gateway": "192.168.1.20" cannot be the gateway/],
      [{ method: 'manual', address: '192.168.1.20', prefix: 24, gateway: '192.168.1.255' }, /not a host of the subnet/],
      [{ method: 'manual', address: '192.168.1.20', prefix: 24, dns: ['1.1.1.1', 'dns.google'] }, /field "dns"\[1\]: "dns.google" is not an IPv4 address/],
      [{ method: 'manual', address: '192.168.1.20', prefix: 24, dns: ['0.0.0.0'] }, /field "dns"\[0\]: "0.0.0.0" cannot be a DNS server/],
      [{ method: 'auto', dns: Array(9).fill('1.1.1.1') }, /field "dns": more than 8 elements/],
    ];
    for (const [request, message] of cases) assert.throws(() => ethernet(request), message, JSON.stringify(request));
  });

  it('lets a /31 or /32 reach a gateway outside it', () => {
    assert.deepEqual(ethernet({ method: 'manual', address: '203.0.113.7', prefix: 32, gateway: '203.0.113.1' }).ipv4, { method: 'manual', address: '203.0.113.7', prefix: 32, gateway: '203.0.113.1', dns: [] });
  });

  it("takes NetworkManager's two proxy methods and refuses a manual proxy", () => {
    assert.deepEqual(ethernet({ method: 'auto', proxy: { method: 'none' } }).proxy, { method: 'none' });
    assert.deepEqual(ethernet({ method: 'auto', proxy: { method: 'auto' } }).proxy, { method: 'auto' });
    assert.deepEqual(ethernet({ method: 'auto', proxy: { method: 'auto', pac_url: 'http://wpad/wpad.dat' } }).proxy, { method: 'auto', pac_url: 'http://wpad/wpad.dat' });
    assert.throws(() => ethernet({ method: 'auto', proxy: { method: 'manual' } }), /field "proxy".method: NetworkManager's proxy setting has no manual proxy/);
    assert.throws(() => ethernet({ method: 'auto', proxy: { method: 'none', pac_url: 'http://wpad/wpad.dat' } }), /field "proxy".pac_url: only with method auto/);
    assert.throws(() => ethernet({ method: 'auto', proxy: { method: 'auto', pac_url: 'file:///etc/x.pac' } }), /field "proxy".pac_url: must be an http/);
  });

  it("reads the Go agent's Manual/Config shape, and refuses it mixed with the other", () => {
    assert.deepEqual(ethernet({ Manual: true, Config: { Ip: '10.0.0.5', Prefix: '8', Gateway: '10.0.0.1', Dns_server: '10.0.0.2', Http_proxy: '', Https_proxy: '' } }), {
      ipv4: { method: 'manual', address: '10.0.0.5', prefix: 8, gateway: '10.0.0.1', dns: ['10.0.0.2'] },
    });
    assert.deepEqual(ethernet({ Manual: false, Config: { Ip: '', Prefix: '', Gateway: '', Dns_server: '' } }), { ipv4: { method: 'auto', dns: [] } });
    assert.throws(() => ethernet({ Manual: true, Config: { Ip: '10.0.0.5', Prefix: 'x' } }), /field "config".prefix: expected an integer/);
    assert.throws(() => ethernet({ Manual: true, Config: { Ip: '10.0.0.256', Prefix: '8' } }), /field "config".ip: "10.0.0.256" is not an IPv4 address/);
    assert.throws(() => ethernet({ Manual: false, Config: { Http_proxy: 'http://proxy:3128' } }), /field "config".http_proxy: NetworkManager's proxy setting has no manual proxy/);
    assert.throws(() => ethernet({ address: '10.0.0.5', Config: {} }), /cannot be mixed/);
  });

  it('turns netmasks into prefixes', () => {
    assert.equal(prefixOfNetmask('255.255.255.0'), 24);
    assert.equal(prefixOfNetmask('255.255.252.0'), 22);
    assert.equal(prefixOfNetmask('0.0.0.0'), 0);
    assert.equal(prefixOfNetmask('255.255.255.255'), 32);
    assert.equal(prefixOfNetmask('255.255.0.255'), undefined);
    assert.equal(prefixOfNetmask('255.255.255'), undefined);
  });
});

describe('the settings NetworkManager is sent', () => {
  it('a WPA profile bound to the device, with the SSID as bytes', () => {
    const settings = wifiSettings({ ssid: 'Café', password: 'secret-pass', hidden: false, sae: false }, 'wlan0');
    assert.deepEqual(settings.connection, {
      id: { signature: 's', value: 'Café' },
      type: { signature: 's', value: '802-11-wireless' },
      'interface-name': { signature: 's', value: 'wlan0' },
    });
    assert.deepEqual(settings['802-11-wireless'], { ssid: { signature: 'ay', value: Buffer.from('Café') }, mode: { signature: 's', value: 'infrastructure' } });
    assert.deepEqual(settings['802-11-wireless-security'], { 'key-mgmt': { signature: 's', value: 'wpa-psk' }, psk: { signature: 's', value: 'secret-pass' } });
    assert.equal(settings.ipv4?.method?.value, 'auto');
  });

  it('hidden, open, and WPA3-only networks', () => {
    const open = wifiSettings({ ssid: 'x', hidden: true, sae: false }, 'wlan0');
    assert.equal(open['802-11-wireless-security'], undefined);
    assert.deepEqual(open['802-11-wireless']?.hidden, { signature: 'b', value: true });
    assert.equal(wifiSettings({ ssid: 'x', password: '12345678', hidden: false, sae: true }, 'wlan0')['802-11-wireless-security']?.['key-mgmt']?.value, 'sae');
    // RSN flags: PSK 0x100, SAE 0x400.
    assert.equal(wantsSae({ path: '/ap', rsnFlags: 0x400 | 0x8 }), true);
    assert.equal(wantsSae({ path: '/ap', rsnFlags: 0x400 | 0x100 }), false);
    assert.equal(wantsSae(undefined), false);
  });

  it('a static wired profile: address-data, gateway, DNS in network byte order, PAC proxy', () => {
    const settings = wiredSettings(
      { ip4: { method: 'manual', address: '192.168.1.20', prefix: 24, gateway: '192.168.1.1', dns: ['192.168.1.1', '8.8.4.4'] }, proxy: { method: 'auto', pacUrl: 'http://wpad/wpad.dat' } },
      'eth0',
    );
    assert.equal(settings.connection?.id?.value, 'arduino-connector eth0');
    assert.deepEqual(settings['802-3-ethernet'], {});
    assert.deepEqual(settings.ipv4, {
      method: { signature: 's', value: 'manual' },
      'address-data': { signature: 'aa{sv}', value: [{ address: { signature: 's', value: '192.168.1.20' }, prefix: { signature: 'u', value: 24 } }] },
      gateway: { signature: 's', value: '192.168.1.1' },
      dns: { signature: 'au', value: [ip4ToUint32('192.168.1.1'), ip4ToUint32('8.8.4.4')] },
    });
    assert.deepEqual(settings.proxy, { method: { signature: 'i', value: 1 }, 'pac-url': { signature: 's', value: 'http://wpad/wpad.dat' } });
    assert.deepEqual(wiredSettings({ ip4: { method: 'auto', dns: [] }, proxy: { method: 'none' } }, 'eth0').proxy, { method: { signature: 'i', value: 0 } });
    assert.deepEqual(wiredSettings({ ip4: { method: 'auto', dns: [] } }, 'eth0').ipv4, { method: { signature: 's', value: 'auto' } });
  });

  it('writes DNS addresses as the reader reads them', () => {
    for (const order of ['LE', 'BE'] as const) {
      for (const address of ['1.2.3.4', '255.0.128.7', '0.0.0.1']) assert.equal(ip4FromUint32(ip4ToUint32(address, order), order), address);
    }
    assert.equal(ip4ToUint32('1.2.3.4', 'BE'), 0x01020304);
    assert.equal(ip4ToUint32('1.2.3.4', 'LE'), 0x04030201);
  });
});

describe('passwords in logs', () => {
  it('-debug-mqtt shows wifi requests with the password and any psk hidden', () => {
    assert.equal(redactPayload('{"ssid":"lab","password":"hunter22!"}'), '{"ssid":"lab","password":"***"}');
    assert.equal(redactPayload('{"Password":"hunter22!","psk":"x"}'), '{"Password":"***","psk":"***"}');
    assert.ok(!redactPayload('{"ssid":"lab","password":"hunter22!" broken').includes('hunter22!'));
    assert.equal(redactPayload('{"ssid":"lab","password":hunter22!}'), '{"ssid":"lab","password":"***"}');
  });

  it("a malformed request's error does not quote the payload", () => {
    // V8 quotes the text around the error: here, a password written without quotes.
    assert.throws(() => decodeRequest('wifi', Buffer.from('{"ssid":"lab","password":hunter22!}')), (err: Error) => {
      assert.equal(err.message, "invalid JSON: Unexpected token 'h' (not valid JSON)");
      return true;
    });
  });
});

it('answers network unavailable when there is no bus, and the other families still answer', async () => {
  const dir = await tempDir('ac-no-bus-');
  const t = await startMemoryAgent({}, { featureOptions: { network: { systemBusAddress: `unix:path=${join(dir.path, 'no-bus')}` } } });
  try {
    const reply = await t.client.callRaw('wifi', '{"ssid":"lab","password":"hunter22!"}', 10_000);
    assert.ok(!reply.ok);
    assert.match(reply.message, /^network unavailable: D-Bus connection failed: .*ENOENT/);
    assert.ok((await t.client.call('status', {}, 10_000)).ok);
    assert.ok(!t.logs.join('\n').includes('hunter22!'));
  } finally {
    await t.stop();
    await dir.remove();
  }
});
