// A bounded first-in first-out log of records on disk, that survives a restart and a kill -9.
//
// The folder holds segment files named by the sequence number of their first record
// (`0000000000000042.seg`, records in record-file.ts's format) and `state.json`: the head (the
// sequence number of the first record not yet delivered), the number up to which sequence numbers
// are reserved, and the bytes and records dropped and not yet reported. The head moves only after
// delivery (`ack`), and is written atomically; segments wholly before the written head are deleted
// after it. So a kill at any moment loses no record that was appended and never delivers one
// twice unless it was delivered after the last state write: the reader (the outbox) tells those
// apart by their sequence numbers.
//
// Durability: an append is a write(2) into the page cache, which a killed process cannot lose;
// the active segment is fdatasync'ed at most `syncIntervalMs` after an append (and when it is
// closed or rotated), which bounds what a power cut can take. A record half written by the power
// cut is found on the next open by its length and CRC and cut off.
//
// Memory: the log keeps one small entry per segment, never the records; reads go through a
// chunk of `readChunkBytes`. Appends are one at a time (the caller serialises them).

import { mkdir, open, readdir, readFile, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage, type Logger } from '../log.js';
import { writeFileAtomic } from './atomic-file.js';
import { decodeRecord, encodeRecord, readState, segmentFileName, segmentName, type State } from './record-file.js';

interface Segment {
  firstSeq: number;
  path: string;
  /** Bytes of whole records in it. */
  size: number;
  count: number;
  writer?: FileHandle;
}

/** Just after a record: the next one starts at `offset`, and is the `index`-th of its segment. */
export interface Position {
  segment: Segment | undefined;
  offset: number;
  index: number;
}

export interface LogRecord {
  seq: number;
  body: Buffer;
  /** Where the record ends (what `ack` moves the head to). */
  end: Position;
}

export interface Dropped {
  bytes: number;
  records: number;
}

export interface RecordLogOptions {
  /** The log never holds more than this many bytes not yet delivered (records, headers included). */
  maxBytes: number;
  /** A segment is closed and a new one begun past this size (default maxBytes / 16, 4 KiB to 1 MiB). */
  segmentBytes?: number;
  /** The active segment reaches the disk at most this long after an append (default 1000 ms; 0: before each append returns). */
  syncIntervalMs?: number;
  readChunkBytes?: number;
  log?: Logger;
}

/** Sequence numbers reserved per state write: a restart skips what is left of the block. */
const reserveBlock = 1 << 20;

export class RecordLog {
  private readonly segments: Segment[] = [];
  private head: Position = { segment: undefined, offset: 0, index: 0 };
  private headSeq: number;
  private cursor: Position = { segment: undefined, offset: 0, index: 0 };
  /** Bumped when the cursor is moved under a read in progress (rewind, drop). */
  private cursorEpoch = 0;
  private nextSeq: number;
  private reserved: number;
  private dropped: Dropped;
  private readonly segmentBytes: number;
  private readonly syncIntervalMs: number;
  private readonly readChunkBytes: number;
  private syncTimer: NodeJS.Timeout | undefined;
  private saving: Promise<void> | undefined;
  private dirty = false;
  private closed = false;
  private readBuffer: { segment: Segment; start: number; data: Buffer } | undefined;

  private constructor(private readonly dir: string, private readonly options: RecordLogOptions, state: State) {
    this.headSeq = state.head;
    this.nextSeq = Math.max(state.reserved, state.head);
    this.reserved = this.nextSeq;
    this.dropped = { bytes: state.droppedBytes, records: state.droppedRecords };
    this.segmentBytes = options.segmentBytes ?? Math.min(1024 * 1024, Math.max(4096, Math.floor(options.maxBytes / 16)));
    this.syncIntervalMs = options.syncIntervalMs ?? 1000;
    this.readChunkBytes = options.readChunkBytes ?? 64 * 1024;
  }

  /** Opens the log in `dir` (made 0700 if missing): cuts a torn tail, deletes what was delivered. */
  static async open(dir: string, options: RecordLogOptions): Promise<RecordLog> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const state = await readState(join(dir, 'state.json'));
    const log = new RecordLog(dir, options, state);
    const names = (await readdir(dir)).filter((name) => segmentName.test(name)).sort();
    for (const name of names) await log.scan(name);
    // Numbers are never reused, also for records that were delivered and deleted.
    const last = log.segments.at(-1);
    if (last) log.nextSeq = Math.max(log.nextSeq, last.firstSeq + last.count);
    log.reserved = log.nextSeq + reserveBlock;
    await log.saveState();
    log.rewind();
    return log;
  }

  /** Reads a segment, cuts it after its last whole record, and places the head in it. */
  private async scan(name: string): Promise<void> {
    const path = join(this.dir, name);
    const firstSeq = Number(segmentName.exec(name)![1]);
    const data = await readFile(path);
    const segment: Segment = { firstSeq, path, size: 0, count: 0 };
    let lastSeq = firstSeq - 1;
    let headAt: Position | undefined;
    while (segment.size < data.length) {
      const decoded = decodeRecord(data, segment.size);
      if (decoded.kind !== 'record' || decoded.seq <= lastSeq) {
        const why = decoded.kind === 'damaged' ? decoded.why : decoded.kind === 'short' ? 'a record cut short' : 'a sequence number out of order';
        const cut = data.length - segment.size;
        this.options.log?.warn(`outbox segment ${name}: ${why} at byte ${segment.size}; ${cut} bytes cut`);
        const handle = await open(path, 'r+');
        await handle.truncate(segment.size).finally(() => handle.close());
        this.dropped.bytes += cut;
        this.dropped.records += 1;
        break;
      }
      lastSeq = decoded.seq;
      segment.size += decoded.bytes;
      segment.count += 1;
      if (decoded.seq < this.headSeq) headAt = { segment, offset: segment.size, index: segment.count };
    }
    if (segment.count === 0 || lastSeq < this.headSeq) {
      // Delivered before the last stop, or empty.
      await unlink(path);
      return;
    }
    this.segments.push(segment);
    if (!this.head.segment) this.head = headAt ?? { segment, offset: 0, index: 0 };
  }

  /** The next sequence number; a message published without the log takes one too, so every
   * message has one and they only grow, across restarts. */
  takeSeq(): number {
    const seq = this.nextSeq++;
    // A fresh block is written long before this one runs out; a kill within the very write
    // that would be needed (half a block of messages later) is the only way a number could
    // come back after a restart.
    if (this.reserved - this.nextSeq < reserveBlock / 2) {
      this.reserved = this.nextSeq + reserveBlock;
      void this.saveState().catch(() => {});
    }
    return seq;
  }

  /** Bytes appended and not yet delivered. */
  get queuedBytes(): number {
    let bytes = 0;
    let counting = this.head.segment === undefined;
    for (const segment of this.segments) {
      if (segment === this.head.segment) {
        counting = true;
        bytes += segment.size - this.head.offset;
      } else if (counting) bytes += segment.size;
    }
    return bytes;
  }

  /** Every record appended was delivered. */
  get empty(): boolean {
    return this.queuedBytes === 0;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  /** Appends a record; drops the oldest segments while more than maxBytes is queued. One at a time. */
  async append(seq: number, body: Uint8Array): Promise<void> {
    if (this.closed) throw new Error('the outbox is closed');
    const record = encodeRecord(seq, body);
    if (record.length > this.options.maxBytes) {
      this.noteDropped(record.length, 1);
      return;
    }
    let active = this.segments.at(-1);
    const delivered = active !== undefined && this.head.segment === active && this.head.offset === active.size;
    if (!active?.writer || active.size >= this.segmentBytes || delivered) active = await this.rotate(seq);
    await active.writer!.write(record, 0, record.length, active.size);
    active.size += record.length;
    active.count += 1;
    if (this.syncIntervalMs === 0) await active.writer!.datasync();
    else this.syncTimer ??= setTimeout(() => void this.sync(), this.syncIntervalMs).unref();
    while (this.queuedBytes > this.options.maxBytes && this.segments.length > 1) await this.dropOldest();
  }

  private async rotate(seq: number): Promise<Segment> {
    const previous = this.segments.at(-1);
    if (previous?.writer) {
      const writer = previous.writer;
      previous.writer = undefined;
      await writer.datasync().finally(() => writer.close());
    }
    const path = join(this.dir, segmentFileName(seq));
    const segment: Segment = { firstSeq: seq, path, size: 0, count: 0, writer: await open(path, 'w', 0o600) };
    this.segments.push(segment);
    if (!this.head.segment) this.head = { segment, offset: 0, index: 0 };
    if (!this.cursor.segment) this.cursor = { ...this.head };
    return segment;
  }

  private async sync(): Promise<void> {
    this.syncTimer = undefined;
    await this.segments.at(-1)?.writer?.datasync().catch((err: unknown) => this.options.log?.warn(`outbox sync failed: ${errorMessage(err)}`));
  }

  /** Deletes the oldest segment; what it held that was not delivered is counted as dropped. */
  private async dropOldest(): Promise<void> {
    const victim = this.segments.shift()!;
    const headIndex = this.head.segment ? this.segments.indexOf(this.head.segment) : -1;
    if (this.head.segment === victim || headIndex < 0) {
      const at = this.head.segment === victim ? this.head : { offset: 0, index: 0 };
      this.noteDropped(victim.size - at.offset, victim.count - at.index);
      const next = this.segments[0]!;
      this.head = { segment: next, offset: 0, index: 0 };
      this.headSeq = Math.max(this.headSeq, next.firstSeq);
    }
    if (this.cursor.segment === victim) {
      this.cursor = { ...this.head };
      this.cursorEpoch += 1;
    }
    if (this.readBuffer?.segment === victim) this.readBuffer = undefined;
    await victim.writer?.close();
    await unlink(victim.path).catch(() => {});
  }

  private noteDropped(bytes: number, records: number): void {
    if (this.dropped.bytes === 0) this.options.log?.warn('outbox full: dropping the oldest messages');
    this.dropped.bytes += bytes;
    this.dropped.records += records;
    void this.saveState().catch(() => {});
  }

  /** Dropped and not yet reported. */
  get droppedSinceReport(): Dropped {
    return { ...this.dropped };
  }

  /** `reported` was published: it is taken off the count (what was dropped meanwhile stays). */
  async reported(reported: Dropped): Promise<void> {
    this.dropped.bytes = Math.max(0, this.dropped.bytes - reported.bytes);
    this.dropped.records = Math.max(0, this.dropped.records - reported.records);
    await this.saveState();
  }

  /** The next read starts again at the head (the first record not delivered). */
  rewind(): void {
    this.cursor = { ...this.head };
    if (!this.cursor.segment && this.segments[0]) this.cursor = { segment: this.segments[0], offset: 0, index: 0 };
    this.cursorEpoch += 1;
  }

  /** The record after the cursor, or undefined once every record appended so far was read. */
  async read(): Promise<LogRecord | undefined> {
    for (;;) {
      let at = this.cursor;
      if (!at.segment) {
        if (!this.segments[0]) return undefined;
        at = this.cursor = { segment: this.segments[0], offset: 0, index: 0 };
      }
      while (at.offset >= at.segment!.size) {
        const next = this.segments[this.segments.indexOf(at.segment!) + 1];
        if (!next) return undefined;
        at = this.cursor = { segment: next, offset: 0, index: 0 };
      }
      const epoch = this.cursorEpoch;
      const segment = at.segment!;
      let decoded = this.decodeBuffered(segment, at.offset);
      if (decoded?.kind !== 'record') {
        const need = decoded?.kind === 'short' ? decoded.need : 0;
        const data = await this.readChunk(segment, at.offset, Math.max(this.readChunkBytes, need));
        if (epoch !== this.cursorEpoch) continue;
        if (!data) continue;
        this.readBuffer = { segment, start: at.offset, data };
        decoded = this.decodeBuffered(segment, at.offset);
      }
      if (decoded?.kind !== 'record') {
        // Damaged after it was opened (the disk, or someone else): the rest of the segment is lost.
        this.options.log?.error(`outbox segment ${segment.path}: unreadable at byte ${at.offset}; skipped`);
        this.noteDropped(segment.size - at.offset, segment.count - at.index);
        this.cursor = { segment, offset: segment.size, index: segment.count };
        continue;
      }
      const end: Position = { segment, offset: at.offset + decoded.bytes, index: at.index + 1 };
      this.cursor = end;
      return { seq: decoded.seq, body: decoded.body, end };
    }
  }

  private decodeBuffered(segment: Segment, offset: number) {
    const buffer = this.readBuffer;
    if (!buffer || buffer.segment !== segment || offset < buffer.start || offset >= buffer.start + buffer.data.length) return undefined;
    return decodeRecord(buffer.data, offset - buffer.start);
  }

  /** Up to `bytes` of the segment's whole records from `offset`; undefined if it was deleted. */
  private async readChunk(segment: Segment, offset: number, bytes: number): Promise<Buffer | undefined> {
    const length = Math.min(bytes, segment.size - offset);
    let handle: FileHandle;
    try {
      handle = await open(segment.path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      const data = Buffer.allocUnsafe(length);
      const { bytesRead } = await handle.read(data, 0, length, offset);
      return data.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  }

  /** The record was delivered, and every one before it: the head moves past it (written soon). */
  ack(record: LogRecord): Promise<void> {
    const segment = record.end.segment;
    if (!segment || !this.segments.includes(segment) || record.seq < this.headSeq) return Promise.resolve();
    this.head = record.end;
    this.headSeq = record.seq + 1;
    return this.saveState();
  }

  /** Writes the state (one write at a time; changes made meanwhile go in the next), then deletes
   * the segments wholly before the head that was written. */
  private saveState(): Promise<void> {
    this.dirty = true;
    this.saving ??= this.saveLoop().finally(() => (this.saving = undefined));
    return this.saving;
  }

  private async saveLoop(): Promise<void> {
    while (this.dirty) {
      this.dirty = false;
      const head = { ...this.head };
      const state: State = { head: this.headSeq, reserved: this.reserved, droppedBytes: this.dropped.bytes, droppedRecords: this.dropped.records };
      await writeFileAtomic(join(this.dir, 'state.json'), `${JSON.stringify(state)}\n`, { mode: 0o600 });
      await this.deleteBefore(head);
    }
  }

  private async deleteBefore(head: Position): Promise<void> {
    // A head in a segment dropped since it was written is behind the current one: nothing to do.
    while (this.segments.length > 1 && head.segment && this.segments.includes(head.segment)) {
      const oldest = this.segments[0]!;
      const wholly = oldest !== head.segment || head.offset >= oldest.size;
      if (!wholly) return;
      if (oldest === head.segment) {
        // Everything in it was delivered: the head moves to the start of the next one.
        head = { segment: this.segments[1], offset: 0, index: 0 };
        if (this.head.segment === oldest) this.head = head;
      }
      this.segments.shift();
      if (this.readBuffer?.segment === oldest) this.readBuffer = undefined;
      if (this.cursor.segment === oldest) this.cursor = { segment: this.segments[0], offset: 0, index: 0 };
      await oldest.writer?.close();
      await unlink(oldest.path).catch(() => {});
    }
  }

  /** Writes the state and closes the files. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.syncTimer);
    await this.saveState().catch((err: unknown) => this.options.log?.warn(`outbox state not written: ${errorMessage(err)}`));
    for (const segment of this.segments) {
      const writer = segment.writer;
      segment.writer = undefined;
      await writer?.datasync().finally(() => writer.close());
    }
  }
}
