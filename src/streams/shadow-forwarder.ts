// Bus messages on their way to B/shadow/update, in order, under the contract's daily budget
// (MessageRateLimiter: past 1,000 messages a day, each waits min(20 s, count/1000 s)). While one
// waits, the next ones queue; the queue is bounded, and when full the oldest waiting message is
// dropped: the newest value of a reading is the one worth reporting. Drops are counted and said
// once per episode (the first, then the total once the queue is down to half).

import { errorMessage, type Logger } from '../log.js';
import type { MessageBus } from '../mqtt/message-bus.js';
import type { Clock, MessageRateLimiter } from '../sketches/rate-limit.js';

export interface ForwarderOptions {
  sink: Pick<MessageBus, 'publish'>;
  topic: string;
  limiter: MessageRateLimiter;
  clock: Clock;
  /** Messages that may wait (default 1,000). */
  queueLimit: number;
  log: Logger;
}

export interface ForwarderCounts {
  /** Handed to the sink and accepted by it. */
  forwarded: number;
  /** Dropped from a full queue. */
  dropped: number;
  /** Refused by the sink (e.g. the broker is unreachable and nothing queues them). */
  failed: number;
}

export class ShadowForwarder {
  private readonly queue: string[] = [];
  private head = 0;
  private draining = false;
  private readonly abort = new AbortController();
  private droppedInEpisode = 0;
  private failedInEpisode = 0;
  private readonly counts: ForwarderCounts = { forwarded: 0, dropped: 0, failed: 0 };

  constructor(private readonly options: ForwarderOptions) {}

  get counters(): Readonly<ForwarderCounts> {
    return this.counts;
  }

  /** Messages waiting now. */
  get waiting(): number {
    return this.queue.length - this.head;
  }

  push(payload: string): void {
    if (this.abort.signal.aborted) return;
    if (this.waiting >= this.options.queueLimit) {
      this.head += 1;
      this.counts.dropped += 1;
      if (this.droppedInEpisode++ === 0) {
        this.options.log.warn(`B/shadow/update: ${this.options.queueLimit} bus messages wait for the rate limit; dropping the oldest while it lasts`);
      }
    }
    this.queue.push(payload);
    if (!this.draining) void this.drain();
  }

  stop(): void {
    this.abort.abort();
    if (this.waiting > 0) this.options.log.info(`B/shadow/update: ${this.waiting} bus messages waiting for the rate limit are not sent (the agent stops)`);
  }

  private async drain(): Promise<void> {
    this.draining = true;
    const { sink, topic, limiter, clock, log } = this.options;
    try {
      while (this.waiting > 0 && !this.abort.signal.aborted) {
        // The delay belongs to the message about to go, so the newest queued one, not a dropped one,
        // is what goes after it.
        const delay = limiter.next();
        if (delay > 0) await clock.sleep(delay, this.abort.signal);
        if (this.abort.signal.aborted) break;
        const payload = this.take();
        if (payload === undefined) break;
        try {
          await sink.publish(topic, payload, { qos: 1 });
          this.counts.forwarded += 1;
          if (this.failedInEpisode > 0) log.info(`B/shadow/update: sent again, after ${this.failedInEpisode} bus messages that could not be sent`);
          this.failedInEpisode = 0;
        } catch (err) {
          this.counts.failed += 1;
          if (this.failedInEpisode++ === 0) log.warn(`B/shadow/update: a bus message could not be sent (${errorMessage(err)}); counting the others`);
        }
        if (this.droppedInEpisode > 0 && this.waiting <= this.options.queueLimit / 2) {
          log.warn(`B/shadow/update: ${this.droppedInEpisode} bus messages were dropped while the queue was full`);
          this.droppedInEpisode = 0;
        }
      }
    } finally {
      this.draining = false;
    }
  }

  private take(): string | undefined {
    if (this.head >= this.queue.length) return undefined;
    const payload = this.queue[this.head];
    this.head += 1;
    // Compacts now and then, so the array does not grow with every message ever sent.
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    return payload;
  }
}
