// IPv4 addresses and netmasks as requests write them: dotted quads without leading zeros (which
// some parsers read as octal, so "010.0.0.1" would mean two different hosts), checked before
// anything is handed to NetworkManager.

import { quoteValue } from '../text.js';
import { ValidationError } from './schema.js';

const octet = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const dottedQuad = new RegExp(`^${octet}(?:\\.${octet}){3}$`);

/** The address as a number, most significant byte first; undefined when it is not a dotted quad. */
export function ip4Number(address: string): number | undefined {
  if (!dottedQuad.test(address)) return undefined;
  return address.split('.').reduce((n, byte) => n * 256 + Number(byte), 0);
}

export function ip4Text(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

/** The mask of a prefix length, as a number. */
export function prefixMask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** The prefix length of a netmask such as 255.255.255.0 (24); undefined when its ones are not
 * contiguous or it is not an address. */
export function prefixOfNetmask(netmask: string): number | undefined {
  const value = ip4Number(netmask);
  if (value === undefined) return undefined;
  for (let prefix = 0; prefix <= 32; prefix++) if (prefixMask(prefix) === value) return prefix;
  return undefined;
}

/** `value` checked as an IPv4 address; `at` names it in the error. */
export function parseIp4(value: string, at: string): number {
  const n = ip4Number(value);
  if (n === undefined) throw new ValidationError(`${at}: ${quoteValue(value, 64)} is not an IPv4 address (four numbers 0-255, no leading zeros)`);
  return n;
}

/** Whether a device or a gateway can have this address: not 0.0.0.0/8, loopback, multicast or
 * reserved (224.0.0.0 and above). */
export function isHostAddress(value: number): boolean {
  const first = value >>> 24;
  return first !== 0 && first !== 127 && first < 224;
}
