// The intake handles requests as they come while a turn of the event loop has time, then queues
// them per family (bounded, in order) and handles them in slices between reads.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { RequestIntake } from '../../src/mqtt/intake.js';
import { waitFor } from '../helpers/wait.js';

type Family = 'a' | 'b';
interface Item {
  family: Family;
  n: number;
}

function busyFor(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

function setUp(options: { costMs: number; limit: number; inlineMs?: number }) {
  const started: Item[] = [];
  const refused: Item[] = [];
  const intake = new RequestIntake<Item, Family>({
    start: (item) => {
      started.push(item);
      busyFor(options.costMs);
    },
    refuse: (item) => void refused.push(item),
    familyOf: (item) => item.family,
    queueLimitOf: () => options.limit,
    inlineMs: options.inlineMs ?? 2,
    sliceMs: 4,
  });
  return { intake, started, refused };
}

it('handles requests at once while the turn has time', () => {
  // A turn of a whole second: a loaded machine that takes this process off the CPU for a few
  // milliseconds must not make these five wait.
  const { intake, started } = setUp({ costMs: 0, limit: 10, inlineMs: 1000 });
  for (let n = 0; n < 5; n++) intake.offer({ family: 'a', n });
  assert.equal(started.length, 5);
  assert.equal(intake.size, 0);
});

it('queues what comes after the turn\'s time, starts it later in order, and refuses past the limit', async () => {
  const { intake, started, refused } = setUp({ costMs: 1, limit: 20 });
  for (let n = 0; n < 50; n++) intake.offer({ family: n % 2 ? 'b' : 'a', n });
  const atOnce = started.length;
  assert.ok(atOnce >= 1 && atOnce < 10, `a few started in this turn (${atOnce})`);
  // 20 wait for each family; the rest of each was refused.
  assert.equal(intake.size, 40);
  assert.equal(refused.length, 50 - atOnce - 40);
  let turns = 0;
  const ticker = setInterval(() => turns++, 0);
  await waitFor(() => intake.size === 0, 'the queue to drain');
  clearInterval(ticker);
  assert.ok(turns > 0, 'timers ran while the queue drained');
  for (const family of ['a', 'b'] as const) {
    const order = started.filter((i) => i.family === family).map((i) => i.n);
    assert.deepEqual(order, [...order].sort((x, y) => x - y), `family ${family} started in arrival order`);
  }
  assert.equal(started.length + refused.length, 50);
});

it('starts a cheap request at once even while others wait', () => {
  const { intake, started } = setUp({ costMs: 3, limit: 20 });
  intake.offer({ family: 'a', n: 0 });
  intake.offer({ family: 'a', n: 1 });
  assert.equal(intake.size, 1);
  intake.offer({ family: 'b', n: 2 }, true);
  assert.deepEqual(started.map((i) => i.n), [0, 2]);
});
