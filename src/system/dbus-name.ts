// Whether a service owns its well-known name on a D-Bus bus now (NetworkManager, say): Hello and
// one NameHasOwner call to the bus daemon over its unix socket, bounded in time. No bus, a bus that
// refuses or does not answer: false.
//
// Hand-written rather than through dbus-next (which the stats feature loads when asked for the
// network): this check runs on every device every minute, and loading dbus-next costs 3.7 MiB of
// resident memory in the bundle (measured), for one boolean. The two messages are built here by
// the D-Bus specification's marshalling rules; only what the replies need is parsed.

import { connect, type Socket } from 'node:net';
import { errorMessage, type Logger } from '../log.js';

export interface NameOwnerOptions {
  /** A D-Bus address (`unix:path=...`); default: the system bus (DBUS_SYSTEM_BUS_ADDRESS or the
   * standard socket). */
  busAddress?: string;
  timeoutMs?: number;
  log?: Logger;
}

const SYSTEM_BUS = 'unix:path=/var/run/dbus/system_bus_socket';
const METHOD_RETURN = 2;
const ERROR = 3;
const FIELD_REPLY_SERIAL = 5;

/** The socket path of the first unix address (`path=` or `abstract=`), or undefined. */
export function unixSocketOf(address: string): string | undefined {
  for (const entry of address.split(';')) {
    const colon = entry.indexOf(':');
    if (entry.slice(0, colon) !== 'unix') continue;
    const keys = new Map(
      entry
        .slice(colon + 1)
        .split(',')
        .map((pair) => {
          const eq = pair.indexOf('=');
          return [pair.slice(0, eq), decodeURIComponent(pair.slice(eq + 1))] as const;
        }),
    );
    const path = keys.get('path');
    if (path) return path;
    const abstract = keys.get('abstract');
    if (abstract) return `\0${abstract}`;
  }
  return undefined;
}

/** A growing little-endian message with D-Bus alignment (relative to the message start). */
class Writer {
  private bytes: number[] = [];
  align(n: number): void {
    while (this.bytes.length % n !== 0) this.bytes.push(0);
  }
  byte(value: number): void {
    this.bytes.push(value);
  }
  uint32(value: number): void {
    this.align(4);
    this.bytes.push(value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff);
  }
  string(value: string): void {
    const encoded = Buffer.from(value, 'utf8');
    this.uint32(encoded.length);
    this.bytes.push(...encoded, 0);
  }
  signature(value: string): void {
    this.bytes.push(value.length, ...Buffer.from(value, 'ascii'), 0);
  }
  get length(): number {
    return this.bytes.length;
  }
  set(offset: number, value: number): void {
    this.bytes.splice(offset, 4, value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff);
  }
  buffer(): Buffer {
    return Buffer.from(this.bytes);
  }
}

/** A method call to the bus daemon itself (org.freedesktop.DBus), with string arguments. */
export function busDaemonCall(serial: number, member: string, args: readonly string[] = []): Buffer {
  const body = new Writer();
  for (const arg of args) body.string(arg);
  const m = new Writer();
  m.byte(0x6c); // 'l': little-endian
  m.byte(1); // method call
  m.byte(0);
  m.byte(1); // protocol version
  m.uint32(body.length);
  m.uint32(serial);
  const fieldsAt = m.length;
  m.uint32(0);
  const fieldsStart = m.length;
  const field = (code: number, type: string, write: () => void) => {
    m.align(8);
    m.byte(code);
    m.signature(type);
    write();
  };
  field(1, 'o', () => m.string('/org/freedesktop/DBus'));
  field(2, 's', () => m.string('org.freedesktop.DBus'));
  field(3, 's', () => m.string(member));
  field(6, 's', () => m.string('org.freedesktop.DBus'));
  if (args.length > 0) field(8, 'g', () => m.signature('s'.repeat(args.length)));
  m.set(fieldsAt, m.length - fieldsStart);
  m.align(8);
  return Buffer.concat([m.buffer(), body.buffer()]);
}

interface Reply {
  type: number;
  replySerial: number | undefined;
  body: Buffer;
  littleEndian: boolean;
}

/** The first whole message in `buf` and its length, or undefined while it is incomplete. */
export function parseMessage(buf: Buffer): { message: Reply; length: number } | undefined {
  if (buf.length < 16) return undefined;
  const littleEndian = buf[0] === 0x6c;
  const u32 = (at: number) => (littleEndian ? buf.readUInt32LE(at) : buf.readUInt32BE(at));
  const align = (at: number, n: number) => Math.ceil(at / n) * n;
  const bodyLength = u32(4);
  const fieldsEnd = 16 + u32(12);
  const bodyStart = align(fieldsEnd, 8);
  if (buf.length < bodyStart + bodyLength) return undefined;
  let replySerial: number | undefined;
  let at = 16;
  while (at < fieldsEnd) {
    at = align(at, 8);
    const code = buf[at++]!;
    const typeLength = buf[at++]!;
    const type = buf.toString('ascii', at, at + typeLength);
    at += typeLength + 1;
    if (type === 'u') {
      at = align(at, 4);
      if (code === FIELD_REPLY_SERIAL) replySerial = u32(at);
      at += 4;
    } else if (type === 's' || type === 'o') {
      at = align(at, 4);
      at += 4 + u32(at) + 1;
    } else if (type === 'g') {
      at += 1 + buf[at]! + 1;
    } else {
      // No other type is used in header fields; the reply serial, if wanted, came before.
      break;
    }
  }
  return { message: { type: buf[1]!, replySerial, body: buf.subarray(bodyStart, bodyStart + bodyLength), littleEndian }, length: bodyStart + bodyLength };
}

/** Authenticates (EXTERNAL, as this process's user), says Hello, asks NameHasOwner(name). */
function ask(socket: Socket, name: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    let authenticated = false;
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (!authenticated) {
        const end = buffered.indexOf('\r\n');
        if (end < 0) return;
        const line = buffered.toString('ascii', 0, end);
        buffered = buffered.subarray(end + 2);
        if (!line.startsWith('OK ')) {
          reject(new Error(`the bus refused the authentication: ${line.slice(0, 200)}`));
          return;
        }
        authenticated = true;
        socket.write(Buffer.concat([Buffer.from('BEGIN\r\n'), busDaemonCall(1, 'Hello'), busDaemonCall(2, 'NameHasOwner', [name])]));
      }
      for (let parsed = parseMessage(buffered); parsed; parsed = parseMessage(buffered)) {
        buffered = buffered.subarray(parsed.length);
        const { message } = parsed;
        if (message.replySerial !== 2) continue;
        if (message.type === METHOD_RETURN && message.body.length >= 4) {
          resolve((message.littleEndian ? message.body.readUInt32LE(0) : message.body.readUInt32BE(0)) === 1);
        } else if (message.type === ERROR) {
          reject(new Error('the bus answered NameHasOwner with an error'));
        }
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error('the bus closed the connection')));
    const uid = String(process.getuid?.() ?? 0);
    socket.write(`\0AUTH EXTERNAL ${Buffer.from(uid, 'ascii').toString('hex')}\r\n`);
  });
}

export async function busNameHasOwner(name: string, options: NameOwnerOptions = {}): Promise<boolean> {
  const timeoutMs = options.timeoutMs ?? 2000;
  const address = options.busAddress ?? process.env.DBUS_SYSTEM_BUS_ADDRESS ?? SYSTEM_BUS;
  let path: string | undefined;
  try {
    path = unixSocketOf(address);
  } catch {
    // A malformed %-escape: no usable address.
  }
  if (path === undefined) {
    options.log?.debug(`no unix socket in the D-Bus address ${JSON.stringify(address)}`);
    return false;
  }
  const socket = connect({ path });
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([ask(socket, name), late]);
  } catch (err) {
    options.log?.debug(`NameHasOwner ${name} on ${path}: ${errorMessage(err)}`);
    return false;
  } finally {
    clearTimeout(timer);
    socket.destroy();
  }
}
