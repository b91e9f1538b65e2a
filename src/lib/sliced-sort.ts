// A sort that gives the event loop a turn every few milliseconds. Sorting the ~64,000 rows of the
// package table in one call held every other request up for tens of milliseconds; in slices, a
// `status` arriving meanwhile waits at most one slice.

const runLength = 2048;

/** `items` sorted by `compare` (stable, like Array#sort), the event loop let in every `sliceMs`. */
export async function sortInSlices<T>(items: readonly T[], compare: (a: T, b: T) => number, sliceMs = 4): Promise<T[]> {
  let deadline = performance.now() + sliceMs;
  const pause = async () => {
    if (performance.now() < deadline) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    deadline = performance.now() + sliceMs;
  };
  // Short runs sorted by the engine, then merged pairwise, bottom up.
  let from = items.slice();
  for (let start = 0; start < from.length; start += runLength) {
    const run = from.slice(start, start + runLength).sort(compare);
    for (let i = 0; i < run.length; i++) from[start + i] = run[i]!;
    await pause();
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
        if ((k & 4095) === 0) await pause();
      }
      while (i < middle) to[k++] = from[i++]!;
      while (j < right) to[k++] = from[j++]!;
      await pause();
    }
    [from, to] = [to, from];
  }
  return from;
}
