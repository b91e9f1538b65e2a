// Work over large arrays (the package table's ~64,000 rows) that gives the event loop a turn every
// few milliseconds. Done in one call, merging, sorting or searching the table held every other
// request up for tens of milliseconds; in slices, a `status` arriving meanwhile waits at most one.

/** Tells long loops when their slice of the event loop is used up. One slicer can be shared by
 * the steps of one job, so the slice counts the job's work, not each step's. */
export class TimeSlicer {
  private deadline: number;

  constructor(private readonly sliceMs = 4) {
    this.deadline = performance.now() + sliceMs;
  }

  /** Resolves at once while the slice lasts; once it is used up, on the next turn of the loop. */
  async pause(): Promise<void> {
    if (performance.now() < this.deadline) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.deadline = performance.now() + this.sliceMs;
  }
}

// The clock is read once per this many items: reading it costs more than most items' work.
const itemsPerCheck = 1024;

/** `items.filter(keep)`, the event loop let in between slices. */
export async function filterInSlices<T>(items: readonly T[], keep: (item: T) => boolean, slicer = new TimeSlicer()): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < items.length; i++) {
    const item = items[i] as T;
    if (keep(item)) out.push(item);
    if ((i & (itemsPerCheck - 1)) === itemsPerCheck - 1) await slicer.pause();
  }
  return out;
}

/** Calls `visit` for each item of `items`, the event loop let in between slices. */
export async function forEachInSlices<T>(items: Iterable<T>, visit: (item: T) => void, slicer = new TimeSlicer()): Promise<void> {
  let i = 0;
  for (const item of items) {
    visit(item);
    if ((++i & (itemsPerCheck - 1)) === 0) await slicer.pause();
  }
}

const runLength = 2048;

/** `items` sorted by `compare` (stable, like Array#sort), the event loop let in between slices. */
export async function sortInSlices<T>(items: readonly T[], compare: (a: T, b: T) => number, slicer = new TimeSlicer()): Promise<T[]> {
  // Short runs sorted by the engine, then merged pairwise, bottom up.
  let from = items.slice();
  for (let start = 0; start < from.length; start += runLength) {
    const run = from.slice(start, start + runLength).sort(compare);
    for (let i = 0; i < run.length; i++) from[start + i] = run[i]!;
    await slicer.pause();
  }
  let to = new Array<T>(from.length);
  for (let width = runLength; width < from.length; width *= 2) {
    for (let left = 0; left < from.length; left += 2 * width) {
      const middle = Math.min(left + width, from.length);
      const right = Math.min(left + 2 * width, from.length);
      let i = left;
      let j = middle;
      let k = left;
      while (i < middle && j < right) {
        // The left run wins ties: stable.
        to[k++] = compare(from[j]!, from[i]!) < 0 ? from[j++]! : from[i++]!;
        if ((k & 4095) === 0) await slicer.pause();
      }
      while (i < middle) to[k++] = from[i++]!;
      while (j < right) to[k++] = from[j++]!;
      await slicer.pause();
    }
    [from, to] = [to, from];
  }
  return from;
}
