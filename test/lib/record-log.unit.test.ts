// The outbox's record log on a real folder: order across a restart, a torn tail cut off, a full
// log dropping its oldest records with the right count, and a writer killed with SIGKILL mid-run.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFile, readdir, stat, truncate } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RecordLog, type LogRecord } from '../../src/lib/record-log.js';
import { headerBytes } from '../../src/lib/record-file.js';
import { tempDir } from '../helpers/tmp.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
let dir: { path: string; remove(): Promise<void> };
let counter = 0;
before(async () => (dir = await tempDir('ac-record-log-')));
after(async () => dir?.remove());

const fresh = () => join(dir.path, `log-${++counter}`);
const body = (n: number) => Buffer.from(`record ${n} `.padEnd(40, '.'));

async function readAll(log: RecordLog): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  for (let r = await log.read(); r; r = await log.read()) out.push(r);
  return out;
}

async function segmentFiles(path: string): Promise<string[]> {
  return (await readdir(path)).filter((name) => name.endsWith('.seg')).sort();
}

describe('RecordLog', () => {
  it('delivers in order, and after a restart starts again at the first record not acknowledged', async () => {
    const path = fresh();
    const log = await RecordLog.open(path, { maxBytes: 1 << 20, segmentBytes: 1024 });
    const seqs: number[] = [];
    for (let i = 0; i < 100; i++) {
      const seq = log.takeSeq();
      seqs.push(seq);
      await log.append(seq, body(i));
    }
    const first = await readAll(log);
    assert.deepEqual(first.map((r) => r.body.toString()), seqs.map((_, i) => body(i).toString()));
    for (const record of first.slice(0, 40)) await log.ack(record);
    await log.close();
    assert.ok((await segmentFiles(path)).length < 100 * 56 / 1024 + 1, 'delivered segments deleted');

    const again = await RecordLog.open(path, { maxBytes: 1 << 20, segmentBytes: 1024 });
    const rest = await readAll(again);
    assert.deepEqual(rest.map((r) => r.seq), seqs.slice(40));
    const next = again.takeSeq();
    assert.ok(next > seqs.at(-1)!, `sequence numbers keep growing across a restart (${next})`);
    for (const record of rest) await again.ack(record);
    assert.equal(again.empty, true);
    await again.close();
    const empty = await RecordLog.open(path, { maxBytes: 1 << 20, segmentBytes: 1024 });
    assert.equal(empty.empty, true);
    assert.deepEqual(await readAll(empty), []);
    await empty.close();
  });

  it('cuts a torn tail record (found by its length and CRC) and keeps every whole one', async () => {
    const path = fresh();
    const log = await RecordLog.open(path, { maxBytes: 1 << 20 });
    for (let i = 0; i < 10; i++) await log.append(log.takeSeq(), body(i));
    await log.close();
    const [file] = await segmentFiles(path);
    const whole = (await stat(join(path, file!))).size;
    // The last record loses its last 7 bytes, as a power cut in the middle of its write would.
    await truncate(join(path, file!), whole - 7);
    const torn = await RecordLog.open(path, { maxBytes: 1 << 20 });
    const records = await readAll(torn);
    assert.deepEqual(records.map((r) => r.body.toString()), [...Array(9).keys()].map((i) => body(i).toString()));
    assert.equal((await stat(join(path, file!))).size, whole - (headerBytes + 40), 'cut after the last whole record');
    assert.deepEqual(torn.droppedSinceReport, { bytes: headerBytes + 40 - 7, records: 1 });
    await torn.close();

    // Garbage after the last record (a header whose CRC does not match) is cut too.
    await appendFile(join(path, file!), Buffer.alloc(60, 0x41));
    const garbled = await RecordLog.open(path, { maxBytes: 1 << 20 });
    assert.equal((await readAll(garbled)).length, 9);
    assert.equal((await stat(join(path, file!))).size, whole - (headerBytes + 40));
    await garbled.close();
  });

  it('drops the oldest records when full, counts their bytes, and keeps the newest in order', async () => {
    const path = fresh();
    const recordBytes = headerBytes + 40;
    // 10 records a segment; at most 50 records queued.
    const log = await RecordLog.open(path, { maxBytes: recordBytes * 50, segmentBytes: recordBytes * 10 });
    const seqs: number[] = [];
    for (let i = 0; i < 173; i++) {
      const seq = log.takeSeq();
      seqs.push(seq);
      await log.append(seq, body(i));
      assert.ok(log.queuedBytes <= recordBytes * 50);
    }
    const dropped = log.droppedSinceReport;
    const kept = await readAll(log);
    assert.equal(dropped.records + kept.length, 173, 'every record either kept or counted as dropped');
    assert.equal(dropped.bytes, dropped.records * recordBytes);
    // Whole segments of the oldest go: what is kept is the newest, contiguous, in order.
    assert.equal(dropped.records % 10, 0);
    assert.deepEqual(kept.map((r) => r.seq), seqs.slice(dropped.records));
    await log.reported(dropped);
    assert.deepEqual(log.droppedSinceReport, { bytes: 0, records: 0 });
    await log.close();
  });

  it('drops records that are being read and acknowledged without losing the order of the rest', async () => {
    const path = fresh();
    const recordBytes = headerBytes + 40;
    const log = await RecordLog.open(path, { maxBytes: recordBytes * 30, segmentBytes: recordBytes * 10 });
    for (let i = 0; i < 25; i++) await log.append(log.takeSeq(), body(i));
    const early = [await log.read(), await log.read(), await log.read()];
    await log.ack(early[0]!);
    for (let i = 25; i < 60; i++) await log.append(log.takeSeq(), body(i));
    // The acknowledgement of a record whose segment was dropped changes nothing.
    await log.ack(early[2]!);
    const rest = await readAll(log);
    const numbers = rest.map((r) => Number(/record (\d+)/.exec(r.body.toString())![1]));
    assert.deepEqual(numbers, [...Array(numbers.length).keys()].map((i) => 60 - numbers.length + i));
    assert.equal(log.droppedSinceReport.records, 60 - 1 - numbers.length);
    await log.close();
  });

  it('keeps every record whose append returned when its writer is killed with SIGKILL, none torn, none twice', async () => {
    const path = fresh();
    const writer = spawn(process.execPath, ['--import', 'tsx', join(root, 'test/lib/record-log-writer.ts'), path], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    writer.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise<void>((done) => {
      const check = () => {
        if (out.split('\n').length > 3000) {
          writer.stdout.off('data', check);
          done();
        }
      };
      writer.stdout.on('data', check);
    });
    writer.kill('SIGKILL');
    await new Promise((r) => writer.once('exit', r));
    const reported = out.split('\n').filter((line) => /^\d+ \d+$/.test(line)).map((line) => line.split(' ').map(Number) as [number, number]);
    const appended = reported.map(([n]) => n);
    const acked = Math.max(...reported.map(([, a]) => a));
    const log = await RecordLog.open(path, { maxBytes: 1 << 30 });
    const numbers = (await readAll(log)).map((r) => Number(/record (\d+)/.exec(r.body.toString())![1]));
    await log.close();
    // Contiguous from the first not acknowledged on: no gap, no duplicate.
    assert.deepEqual(numbers, [...Array(numbers.length).keys()].map((i) => numbers[0]! + i));
    assert.ok(numbers[0]! > acked, `no record whose acknowledgement was written comes back (${numbers[0]}, ${acked})`);
    assert.ok(numbers.at(-1)! >= appended.at(-1)!, 'every append that returned is there');
  });
});
