// The write gate hands publishes to a real stream only while it takes writes, in order, behind one
// 'drain' listener however many wait.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Writable } from 'node:stream';
import { WriteGate } from '../../src/mqtt/write-gate.js';
import { waitFor } from '../helpers/wait.js';

/** A stream that takes one write at a time and finishes each on a later turn of the loop. */
function slowStream(written: number[]): Writable {
  return new Writable({
    highWaterMark: 1,
    write(chunk: Buffer, _encoding, done) {
      written.push(chunk.readUInt32BE(0));
      setImmediate(done);
    },
  });
}

it('writes in order, only while the stream takes writes, with one drain listener', async () => {
  const written: number[] = [];
  const stream = slowStream(written);
  const gate = new WriteGate();
  let mostListeners = 0;
  for (let i = 0; i < 1000; i++) {
    gate.pass(stream, () => {
      assert.equal(stream.writableNeedDrain, false, `write ${i} came while the stream was full`);
      const chunk = Buffer.alloc(4);
      chunk.writeUInt32BE(i);
      stream.write(chunk);
    });
    mostListeners = Math.max(mostListeners, stream.listenerCount('drain'));
  }
  assert.ok(gate.size > 900, 'most writes waited for the stream');
  await waitFor(() => written.length === 1000, 'every write');
  assert.deepEqual(written, Array.from({ length: 1000 }, (_, i) => i));
  assert.ok(mostListeners <= 1, `at most one drain listener (saw ${mostListeners})`);
  assert.equal(gate.size, 0);
});

it('runs what waits when the stream closes, so nothing waits for a drain that never comes', async () => {
  const stream = slowStream([]);
  const gate = new WriteGate();
  const ran: number[] = [];
  stream.write(Buffer.alloc(4));
  for (let i = 0; i < 3; i++) gate.pass(stream, () => ran.push(i));
  assert.deepEqual(ran, []);
  stream.destroy();
  await waitFor(() => ran.length === 3, 'the waiting writes');
  assert.deepEqual(ran, [0, 1, 2]);
});
