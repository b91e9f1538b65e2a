// After a burst of work (a few thousand commands, a sketch's output) V8 keeps its young generation
// and the free space of its old one at the size the burst needed. They shrink only in a full
// collection run while allocation is low, which an idle agent may never get to, so a device would
// hold that memory until its next burst. Once the event loop has been busy and then quiet for a
// whole window, one full collection gives it back (after 10,000 `status` requests: ~1 MiB with the
// bin's 1 MiB young generation, 8 MiB with a 4 MiB one; BENCHMARKS.md), and a trim of the C
// library's heap returns what large payloads left in it. A device that stays idle pays nothing:
// nothing runs until it was busy.

import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { garbageCollector } from './gc.js';
import { loadMallocTrim } from './malloc-trim.js';

export interface IdleCollectorOptions {
  /** Length of the window that must be quiet after a busy one (default 10 s). */
  windowMs?: number;
  /** Event-loop time within a window that counts as busy (default 50 ms). */
  busyMs?: number;
  /** The collection to run; by default V8's full collection, its low-memory one, then a trim of
   * the C library's heap. */
  collect?: () => void;
}

export class IdleCollector {
  private readonly windowMs: number;
  private readonly busyMs: number;
  private readonly collect: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private last: EventLoopUtilization | undefined;
  private busySinceCollection = false;

  constructor(options: IdleCollectorOptions = {}) {
    this.windowMs = options.windowMs ?? 10_000;
    this.busyMs = options.busyMs ?? 50;
    const gc = garbageCollector();
    // gc() with no options is the full, compacting collection (node 20's gc({ type: 'major' })
    // runs only a scavenge). It leaves V8's emptied pages committed: on node 24 the RSS stayed at
    // the burst's size. The last-resort flavour (V8's low-memory collection) then hands them back;
    // on node 20 it adds nothing, and costs nothing, after the first.
    const trim = loadMallocTrim();
    this.collect =
      options.collect ??
      (gc
        ? () => {
            gc();
            gc({ type: 'major', flavor: 'last-resort' });
            trim?.();
          }
        : undefined);
  }

  /** Whether collections can run at all (node started with --expose-gc, or a collector given). */
  get enabled(): boolean {
    return this.collect !== undefined;
  }

  start(): void {
    if (!this.collect || this.timer) return;
    this.last = performance.eventLoopUtilization();
    this.timer = setInterval(() => this.check(), this.windowMs);
    // Never the reason the process stays alive.
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private check(): void {
    const now = performance.eventLoopUtilization();
    const busyMs = this.last ? performance.eventLoopUtilization(now, this.last).active : 0;
    this.last = now;
    if (busyMs >= this.busyMs) {
      this.busySinceCollection = true;
      return;
    }
    if (!this.busySinceCollection) return;
    this.busySinceCollection = false;
    this.collect?.();
  }
}
