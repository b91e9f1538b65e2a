// The sliced sort sorts as Array#sort does (stable), and lets other work run while it sorts.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { sortInSlices } from '../../src/lib/sliced-sort.js';

const byKey = (a: { key: number }, b: { key: number }) => a.key - b.key;

it('sorts like Array#sort, stably, whatever the length', async () => {
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (const length of [0, 1, 2, 2047, 2048, 2049, 5000, 70_000]) {
    const items = Array.from({ length }, (_, index) => ({ key: Math.floor(random() * 500), index }));
    const expected = items.slice().sort(byKey);
    assert.deepEqual(await sortInSlices(items, byKey), expected, `length ${length}`);
  }
});

it('lets the event loop run while it sorts a large array', async () => {
  const items = Array.from({ length: 200_000 }, (_, index) => ({ key: (index * 7919) % 100_003, index }));
  let turns = 0;
  const ticker = setInterval(() => turns++, 0);
  try {
    await sortInSlices(items, byKey, 1);
  } finally {
    clearInterval(ticker);
  }
  assert.ok(turns > 0, 'timers ran during the sort');
});
