// The per-sketch lock's invariants, as written at the top of src/sketches/id-lock.ts.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { RefusedError } from '../../src/errors.js';
import { KeyedLock } from '../../src/sketches/id-lock.js';

const tick = () => new Promise<void>((r) => setImmediate(r));

it('runs work under one key one at a time, in order; other keys do not wait', async () => {
  const lock = new KeyedLock();
  const events: string[] = [];
  let releaseFirst!: () => void;
  const first = lock.run('a', async () => {
    events.push('a1 start');
    await new Promise<void>((r) => (releaseFirst = r));
    events.push('a1 end');
  });
  const second = lock.run('a', async () => void events.push('a2'));
  const other = lock.run('b', async () => void events.push('b1'));
  await other;
  await tick();
  assert.deepEqual(events, ['a1 start', 'b1']);
  releaseFirst();
  await Promise.all([first, second]);
  assert.deepEqual(events, ['a1 start', 'b1', 'a1 end', 'a2']);
  assert.equal(lock.busy, false);
});

it('releases the key after a failed work', async () => {
  const lock = new KeyedLock();
  await assert.rejects(lock.run('a', async () => Promise.reject(new Error('broke'))), /broke/);
  assert.equal(await lock.run('a', async () => 'next'), 'next');
});

it('after close refuses work not begun, and waits for work already running', async () => {
  const lock = new KeyedLock();
  let release!: () => void;
  let finished = false;
  const running = lock.run('a', async () => {
    await new Promise<void>((r) => (release = r));
    finished = true;
  });
  const queued = lock.run('a', async () => 'queued ran');
  await tick();
  const closing = lock.close(new RefusedError('the agent is shutting down'));
  await assert.rejects(lock.run('b', async () => 'late'), RefusedError);
  release();
  await closing;
  assert.equal(finished, true);
  await running;
  await assert.rejects(queued, /shutting down/);
});
