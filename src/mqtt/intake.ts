// Keeps the agent reading its socket while requests come faster than it answers them. The broker
// queues only so many messages for a client (mosquitto: 1,000) and drops the rest, so time spent
// handling requests inside the read path is time the broker's queue fills. Within a turn of the
// event loop requests are handled as they arrive until `inlineMs` of handling; after that they
// wait here, per family and bounded, and are handled in slices of `sliceMs` between reads. A
// family whose queue is full has its next request refused (busy) at once, which costs little.
//
// Invariants: a family's requests start in the order they arrived; nothing waits here while the
// loop is idle (the drain is scheduled whenever something is queued); each queue holds at most
// its limit.

import { performance } from 'node:perf_hooks';

export interface IntakeOptions<T, F extends string> {
  /** Starts handling a request (its synchronous part runs inside). */
  start(item: T): void;
  /** Answers a request that found its family's queue full. */
  refuse(item: T, family: F, waiting: number): void;
  familyOf(item: T): F;
  queueLimitOf(family: F): number;
  /** Handling per turn of the event loop before requests wait (default 2 ms). */
  inlineMs?: number;
  /** Handling per turn spent on the waiting requests (default 4 ms). */
  sliceMs?: number;
}

export class RequestIntake<T, F extends string> {
  private readonly waiting: { item: T; family: F }[] = [];
  private readonly waitingByFamily = new Map<F, number>();
  private turnStart = 0;
  private turnOpen = false;
  private drainScheduled = false;

  constructor(private readonly options: IntakeOptions<T, F>) {}

  /** How many requests wait. */
  get size(): number {
    return this.waiting.length;
  }

  /** A request arrived. `cheap`: its handling is a refusal that costs less than queueing it (an
   * oversized payload: queued, it would keep its bytes). */
  offer(item: T, cheap = false): void {
    if (cheap || (this.waiting.length === 0 && this.inlineBudgetLeft())) {
      this.options.start(item);
      return;
    }
    const family = this.options.familyOf(item);
    const queued = this.waitingByFamily.get(family) ?? 0;
    if (queued >= this.options.queueLimitOf(family)) {
      this.options.refuse(item, family, queued);
      return;
    }
    this.waiting.push({ item, family });
    this.waitingByFamily.set(family, queued + 1);
    this.scheduleDrain();
  }

  private inlineBudgetLeft(): boolean {
    const now = performance.now();
    if (!this.turnOpen) {
      this.turnOpen = true;
      this.turnStart = now;
      setImmediate(() => (this.turnOpen = false));
    }
    return now - this.turnStart < (this.options.inlineMs ?? 2);
  }

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    setImmediate(() => this.drain());
  }

  private drain(): void {
    this.drainScheduled = false;
    const deadline = performance.now() + (this.options.sliceMs ?? 4);
    // The next read of the socket comes before the next slice.
    while (this.waiting.length > 0 && performance.now() < deadline) {
      const { item, family } = this.waiting.shift()!;
      this.waitingByFamily.set(family, (this.waitingByFamily.get(family) ?? 1) - 1);
      this.options.start(item);
    }
    if (this.waiting.length > 0) this.scheduleDrain();
  }
}
