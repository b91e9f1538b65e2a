// The files of the outbox's folder: segment files of records, and the state file. Each record is
//
//   u32 LE  body length
//   u32 LE  CRC-32 of the sequence number's 8 bytes and the body
//   u64 LE  sequence number (increasing along the log)
//   body
//
// so a record cut short by a kill or a power loss, or one whose bytes never reached the disk, is
// told from a whole one by its length and CRC, and the log is cut there.

import { readFile } from 'node:fs/promises';

export const headerBytes = 16;
/** Larger than any message the agent publishes; a larger length is a damaged header. */
export const maxBodyBytes = 16 * 1024 * 1024;

const crcTable = (() => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
})();

/** CRC-32 (IEEE, as zlib): zlib.crc32 only exists from Node 20.15 and 22.2. */
export function crc32(data: Uint8Array, seed = 0): number {
  let c = ~seed;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

export function encodeRecord(seq: number, body: Uint8Array): Buffer {
  const record = Buffer.allocUnsafe(headerBytes + body.length);
  record.writeUInt32LE(body.length, 0);
  record.writeBigUInt64LE(BigInt(seq), 8);
  record.set(body, headerBytes);
  record.writeUInt32LE(crc32(record.subarray(headerBytes), crc32(record.subarray(8, 16))), 4);
  return record;
}

export type Decoded =
  | { kind: 'record'; seq: number; body: Buffer; bytes: number }
  /** Not enough bytes here for a whole record: read more (or it is a torn tail). */
  | { kind: 'short'; need: number }
  | { kind: 'damaged'; why: string };

/** The record at `offset` of `buffer`. */
export function decodeRecord(buffer: Buffer, offset: number): Decoded {
  if (buffer.length - offset < headerBytes) return { kind: 'short', need: headerBytes };
  const length = buffer.readUInt32LE(offset);
  if (length > maxBodyBytes) return { kind: 'damaged', why: `a record length of ${length} bytes` };
  const bytes = headerBytes + length;
  if (buffer.length - offset < bytes) return { kind: 'short', need: bytes };
  const body = buffer.subarray(offset + headerBytes, offset + bytes);
  const crc = crc32(body, crc32(buffer.subarray(offset + 8, offset + 16)));
  if (crc !== buffer.readUInt32LE(offset + 4)) return { kind: 'damaged', why: 'a CRC mismatch' };
  return { kind: 'record', seq: Number(buffer.readBigUInt64LE(offset + 8)), body, bytes };
}

/** Segment files are named by the sequence number of their first record. */
export const segmentName = /^(\d{16})\.seg$/;
export const segmentFileName = (firstSeq: number) => `${String(firstSeq).padStart(16, '0')}.seg`;

/** state.json: the head (first sequence number not delivered), the sequence numbers reserved,
 * and what was dropped and not yet reported. */
export interface State {
  head: number;
  reserved: number;
  droppedBytes: number;
  droppedRecords: number;
}

export async function readState(path: string): Promise<State> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { head: 0, reserved: 0, droppedBytes: 0, droppedRecords: 0 };
    throw err;
  }
  const parsed = JSON.parse(text) as Partial<State>;
  const numbers = [parsed.head, parsed.reserved, parsed.droppedBytes, parsed.droppedRecords];
  if (!numbers.every((n) => Number.isSafeInteger(n) && n! >= 0)) throw new Error(`${path}: not an outbox state`);
  return parsed as State;
}
