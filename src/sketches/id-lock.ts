// The lock that keeps commands on one sketch from overlapping.
//
// Invariants:
// 1. Work under one key runs one at a time, in the order it asked; work under different keys
//    never waits for each other.
// 2. A failed work releases the key like a finished one; the next in line runs.
// 3. Once close() is called, queued work that has not begun is refused with the error close()
//    was given, and idle() resolves when the work already running is done, so nothing can begin
//    behind a shutdown.
// 4. Lock order, for every sketch operation that writes to disk: the -check_ro_fs guard
//    (WritableMount.around) first, then this lock. Nothing takes the guard while holding the lock,
//    so upload, the drop folder and the sketch actions cannot wait on each other in a circle.
// 5. Holding the lock of one key, never ask for another key's lock.

export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();
  private closedWith: Error | undefined;

  /** Runs `work` once every earlier work under `key` is done. */
  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const before = this.tails.get(key) ?? Promise.resolve();
    const guarded = async () => {
      if (this.closedWith) throw this.closedWith;
      return work();
    };
    const result = before.then(guarded, guarded);
    const tail = result.catch(() => {});
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Whether any work holds or waits for a key. */
  get busy(): boolean {
    return this.tails.size > 0;
  }

  /** Refuses all work not yet begun with `reason`; resolves once running work is done. */
  async close(reason: Error): Promise<void> {
    this.closedWith = reason;
    await Promise.all([...this.tails.values()]);
  }
}
