// Sliced work gives the same result as the one-call array methods, and lets other work run
// meanwhile.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { filterInSlices, forEachInSlices, sortInSlices, TimeSlicer } from '../../src/lib/slices.js';

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
    await sortInSlices(items, byKey, new TimeSlicer(1));
  } finally {
    clearInterval(ticker);
  }
  assert.ok(turns > 0, 'timers ran during the sort');
});

it('filters and visits like Array#filter and a for-of loop, whatever the length', async () => {
  for (const length of [0, 1, 1023, 1024, 1025, 70_000]) {
    const items = Array.from({ length }, (_, index) => index);
    assert.deepEqual(await filterInSlices(items, (n) => n % 3 === 0), items.filter((n) => n % 3 === 0), `filter, length ${length}`);
    const seen: number[] = [];
    await forEachInSlices(new Set(items), (n) => void seen.push(n));
    assert.deepEqual(seen, items, `forEach, length ${length}`);
  }
});

it('lets the event loop run while it filters a large array', async () => {
  // normalize() makes each item cost enough for the 1 ms slices to run out.
  const items = Array.from({ length: 200_000 }, (_, index) => `package-${index}`);
  let turns = 0;
  const ticker = setInterval(() => turns++, 0);
  try {
    await filterInSlices(items, (name) => name.normalize('NFD').includes('99'), new TimeSlicer(1));
  } finally {
    clearInterval(ticker);
  }
  assert.ok(turns > 0, 'timers ran during the filter');
});
