// The original agent's flood guard for messages a sketch sends to the cloud: the first 1,000
// messages of a day go out at once; past that, each message waits min(20 s, count/1000 s), so a
// runaway sketch cannot flood the broker (or the device's data plan). The count is per message,
// never per byte, and starts again a day after the window opened.

export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (ms <= 0 || signal?.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
    }),
};

export interface RateLimitOptions {
  /** Messages a window lets through without delay (default 1,000). */
  freeMessages?: number;
  /** The delay never grows beyond this (default 20 s). */
  maxDelayMs?: number;
  /** Length of the window after which the count starts again (default one day). */
  windowMs?: number;
  clock?: Clock;
}

export class MessageRateLimiter {
  private count = 0;
  private windowStart: number;
  private readonly freeMessages: number;
  private readonly maxDelayMs: number;
  private readonly windowMs: number;
  private readonly clock: Clock;

  constructor(options: RateLimitOptions = {}) {
    this.freeMessages = options.freeMessages ?? 1000;
    this.maxDelayMs = options.maxDelayMs ?? 20_000;
    this.windowMs = options.windowMs ?? 24 * 60 * 60 * 1000;
    this.clock = options.clock ?? systemClock;
    this.windowStart = this.clock.now();
  }

  /** Messages counted in the current window. */
  get counted(): number {
    return this.count;
  }

  /** Counts one message and returns how long it must wait before it is sent. */
  next(): number {
    const now = this.clock.now();
    if (now - this.windowStart >= this.windowMs) {
      this.windowStart = now;
      this.count = 0;
    }
    this.count += 1;
    if (this.count <= this.freeMessages) return 0;
    return Math.min(this.maxDelayMs, this.count);
  }

  /** Counts one message and waits its delay (an abort ends the wait early). */
  async take(signal?: AbortSignal): Promise<void> {
    const delay = this.next();
    if (delay > 0) await this.clock.sleep(delay, signal);
  }
}
