// wifi and ethernet: connection profiles put on a device through NetworkManager. The requests are
// checked here, before NetworkManager sees them, so a typo is answered at once rather than
// leaving a device without its link. Error messages never repeat a password.

import { quoteValue } from '../text.js';
import { httpUrl } from './fields.js';
import { ip4Text, isHostAddress, parseIp4, prefixMask, prefixOfNetmask } from './ipv4.js';
import { arrayOf, bool, fixedObject, int, object, oneOf, optional, refine, str, text, ValidationError, type Infer, type Schema } from './schema.js';

/** A Linux interface name as NetworkManager lists it (eth0, enp1s0, wlp2s0): at most 15 bytes. */
const interfaceName = str({
  min: 1,
  max: 15,
  pattern: /^[A-Za-z0-9_.-]+$/,
  patternText: 'must be an interface name such as eth0 or wlan0 (letters, digits, "_", ".", "-")',
});

/** 802.11 allows 32 bytes of SSID, whatever characters they encode. */
const ssid = refine(str({ min: 1, max: 32 }), (value, at) => {
  // TextEncoder rather than Buffer: the map also runs in the console's browser page.
  const bytes = new TextEncoder().encode(value).length;
  if (bytes > 32) throw new ValidationError(`${at}: ${bytes} bytes in UTF-8, an SSID has at most 32`);
  return value;
});

/** A WPA passphrase (8-63 printable ASCII characters) or a raw key (64 hex digits); "" for an
 * open network. The messages say what is wrong, never what was sent. */
const wpaPassword = refine(str({ max: 64 }), (value, at) => {
  if (value === '') return value;
  if (value.length === 64) {
    if (!/^[0-9A-Fa-f]{64}$/.test(value)) throw new ValidationError(`${at}: 64 characters must be hex digits (a raw WPA key); a passphrase has 8 to 63`);
    return value;
  }
  if (value.length < 8) throw new ValidationError(`${at}: a WPA passphrase has 8 to 63 characters, this has ${value.length}`);
  if (!/^[\x20-\x7e]+$/.test(value)) throw new ValidationError(`${at}: a WPA passphrase has printable ASCII characters only`);
  return value;
});

/** `password` absent or "" is an open network. */
const wifi = object({ ssid, password: optional(wpaPassword), hidden: optional(bool()), interface: optional(interfaceName) });

/** A prefix length, also as the Go agent sent it: a string of digits. */
const prefixNumber = int({ min: 0, max: 32 });
const prefixLength: Schema<number> = {
  parse(value, at) {
    const n = typeof value === 'string' && /^\d{1,2}$/.test(value) ? Number(value) : value;
    return prefixNumber.parse(n, at);
  },
  json: { oneOf: [prefixNumber.json, { type: 'string', pattern: '^[0-9]{1,2}$' }] },
};

const addressText = str({ max: 64 });

/** The Go agent's shape: `{"Manual":bool,"Config":{"Ip","Prefix","Gateway","Dns_server",...}}`. */
const goConfig = object({
  ip: optional(addressText),
  prefix: optional(str({ max: 8 })),
  gateway: optional(addressText),
  dns_server: optional(addressText),
  http_proxy: optional(str({ max: 4096 })),
  https_proxy: optional(str({ max: 4096 })),
});

const proxyFields = object({ method: oneOf('none', 'auto', 'manual'), pac_url: optional(httpUrl) });

const ethernetFields = object({
  method: optional(oneOf('auto', 'manual')),
  address: optional(addressText),
  prefix: optional(prefixLength),
  netmask: optional(addressText),
  gateway: optional(addressText),
  dns: optional(arrayOf(addressText, { max: 8 })),
  proxy: optional(proxyFields),
  interface: optional(interfaceName),
  manual: optional(bool()),
  config: optional(goConfig),
});

export type EthernetIp4 =
  | { method: 'auto'; dns: string[] }
  | { method: 'manual'; address: string; prefix: number; gateway?: string; dns: string[] };

export type EthernetProxy = { method: 'none' } | { method: 'auto'; pac_url?: string };

/** An ethernet request in one shape, whichever of the two it came in. */
export interface EthernetSettings {
  ipv4: EthernetIp4;
  proxy?: EthernetProxy;
  interface?: string;
}

const noManualProxy = "NetworkManager's proxy setting has no manual proxy: use method auto (with pac_url, or WPAD when there is none) or none";

function proxyOf(proxy: Infer<typeof proxyFields> | undefined): EthernetProxy | undefined {
  if (proxy === undefined) return undefined;
  if (proxy.method === 'manual') throw new ValidationError(`field "proxy".method: ${noManualProxy}`);
  if (proxy.method === 'none') {
    if (proxy.pac_url !== undefined) throw new ValidationError('field "proxy".pac_url: only with method auto');
    return { method: 'none' };
  }
  return proxy.pac_url === undefined ? { method: 'auto' } : { method: 'auto', pac_url: proxy.pac_url };
}

const blank = (value: string | undefined) => (value === undefined || value.trim() === '' ? undefined : value.trim());

/** The fields in one shape, whichever of the two they came in. */
function unify(r: Infer<typeof ethernetFields>) {
  const go = r.config;
  if (go === undefined) {
    // A change of the link is never a default: `{}` must not turn a static address into DHCP.
    if (r.method === undefined) throw new ValidationError('field "method": missing (auto for DHCP, or manual with an address)');
    return { go: false, names: { address: 'field "address"', prefix: 'field "prefix"', gateway: 'field "gateway"', dns: 'field "dns"' }, ...r, method: r.method, dns: r.dns ?? [] };
  }
  if ([r.method, r.address, r.prefix, r.netmask, r.gateway, r.dns].some((v) => v !== undefined)) {
    throw new ValidationError('field "config": the Go agent\'s Manual/Config shape cannot be mixed with method, address, prefix, netmask, gateway, dns');
  }
  if (blank(go.http_proxy) || blank(go.https_proxy)) throw new ValidationError(`field "config".http_proxy: ${noManualProxy}`);
  const prefix = blank(go.prefix);
  return {
    go: true,
    names: { address: 'field "config".ip', prefix: 'field "config".prefix', gateway: 'field "config".gateway', dns: 'field "config".dns_server' },
    method: r.manual === true ? ('manual' as const) : ('auto' as const),
    address: blank(go.ip),
    prefix: prefix === undefined ? undefined : prefixLength.parse(prefix, 'field "config".prefix'),
    netmask: undefined,
    gateway: blank(go.gateway),
    dns: blank(go.dns_server) === undefined ? [] : [blank(go.dns_server)!],
    proxy: r.proxy,
    interface: r.interface,
  };
}

/** The settings an ethernet request asks for; throws ValidationError naming the field that is
 * wrong. The request schema runs it too, so a request that passed it never throws here. */
export function ethernetSettingsOf(fields: Infer<typeof ethernetFields>): EthernetSettings {
  const r = unify(fields);
  const field = (name: keyof typeof r.names | 'netmask') => (name === 'netmask' ? 'field "netmask"' : r.names[name]);
  const dns = r.dns.map((server, i) => {
    const at = r.go ? field('dns') : `${field('dns')}[${i}]`;
    const n = parseIp4(server, at);
    if (n === 0 || n >>> 24 >= 224) throw new ValidationError(`${at}: ${quoteValue(server)} cannot be a DNS server`);
    return server;
  });
  const { method } = r;
  const proxy = proxyOf(r.proxy);
  const common = { ...(proxy ? { proxy } : {}), ...(r.interface === undefined ? {} : { interface: r.interface }) };
  if (method === 'auto') {
    for (const name of ['address', 'prefix', 'netmask', 'gateway'] as const) {
      if (r[name] !== undefined) throw new ValidationError(`${field(name)}: only with method manual (method auto takes the address from DHCP)`);
    }
    return { ipv4: { method, dns }, ...common };
  }
  if (r.address === undefined) throw new ValidationError(`${field('address')}: missing (method manual needs an address)`);
  const address = parseIp4(r.address, field('address'));
  if (!isHostAddress(address)) throw new ValidationError(`${field('address')}: ${quoteValue(r.address)} cannot be a device's address`);
  let prefix = r.prefix;
  if (r.netmask !== undefined) {
    const fromMask = prefixOfNetmask(r.netmask);
    if (fromMask === undefined) throw new ValidationError(`${field('netmask')}: ${quoteValue(r.netmask, 64)} is not a netmask (such as 255.255.255.0)`);
    if (prefix !== undefined && prefix !== fromMask) throw new ValidationError(`${field('netmask')}: /${fromMask} disagrees with prefix ${prefix}`);
    prefix = fromMask;
  }
  if (prefix === undefined) throw new ValidationError(`${field('prefix')}: missing (method manual needs a prefix or a netmask)`);
  const mask = prefixMask(prefix);
  const network = (address & mask) >>> 0;
  const broadcast = (network | ~mask) >>> 0;
  // A /31 or /32 has no network or broadcast address, and reaches its gateway on the link.
  const hasSubnet = prefix <= 30;
  const subnet = `${ip4Text(network)}/${prefix}`;
  if (hasSubnet && (address === network || address === broadcast)) {
    throw new ValidationError(`${field('address')}: ${r.address} is the ${address === network ? 'network' : 'broadcast'} address of ${subnet}`);
  }
  let gateway: string | undefined;
  if (r.gateway !== undefined) {
    const g = parseIp4(r.gateway, field('gateway'));
    if (!isHostAddress(g) || g === address) throw new ValidationError(`${field('gateway')}: ${quoteValue(r.gateway)} cannot be the gateway of ${r.address}`);
    if (hasSubnet && ((g & mask) >>> 0 !== network || g === network || g === broadcast)) {
      throw new ValidationError(`${field('gateway')}: ${r.gateway} is not a host of the subnet ${subnet}`);
    }
    gateway = r.gateway;
  }
  return { ipv4: { method, address: r.address, prefix, ...(gateway ? { gateway } : {}), dns }, ...common };
}

export const networkRequests = {
  wifi,
  // Checked whole here, but kept in the shape it was sent in: a client validates its request with
  // this schema and then sends it as it is.
  ethernet: refine(
    ethernetFields,
    (request) => {
      ethernetSettingsOf(request);
      return request;
    },
    // What JSON Schema can say of ethernetSettingsOf's rules: a method, or the Go agent's shape.
    { anyOf: [{ required: ['method'] }, { required: ['config'] }] },
  ),
};

/** What a wifi or ethernet request did. */
export interface NetworkConnectionResult {
  /** The profile's D-Bus object path (org.freedesktop.NetworkManager.Settings.Connection). */
  connection: string;
  /** The activation NetworkManager started for it (Connection.Active). */
  active_connection: string;
  /** The device it was put on. */
  interface: string;
  /** Whether a new profile was added or the one of the same name updated. */
  action: 'added' | 'updated';
}

export interface NetworkAnswers {
  wifi: NetworkConnectionResult;
  ethernet: NetworkConnectionResult;
}

/** Built on first use (see aptAnswerSchemas). */
export function networkAnswerSchemas() {
  const result = () =>
    fixedObject({
      connection: text("the profile's D-Bus object path (org.freedesktop.NetworkManager.Settings.Connection)"),
      active_connection: text('the activation NetworkManager started for it (Connection.Active)'),
      interface: text('the device it was put on'),
      action: oneOf('added', 'updated'),
    });
  return { wifi: result(), ethernet: result() };
}
