// A sketch's terminal output on its way to MQTT: chunks are coalesced into messages (flushed when
// a message is full or a few milliseconds after the last chunk), published in order to every
// output topic, paced by the rate limiter, and the terminal is held while too much is on its way,
// so a sketch that prints faster than the broker takes its output slows down instead of growing
// the agent's memory.

import { errorMessage, type Logger } from '../log.js';
import type { MessageBus } from '../mqtt/message-bus.js';
import type { MessageRateLimiter } from './rate-limit.js';

/** What the output needs of the terminal: stop reading it and start again. */
export interface FlowControl {
  holdOutput(): void;
  releaseOutput(): void;
}

export interface SketchOutputOptions {
  bus: Pick<MessageBus, 'publish'>;
  /** Every message goes to each of these topics (B/stdout and B/sketches/<id>/stdout). */
  topics: string[];
  limiter: MessageRateLimiter;
  flow: FlowControl;
  log: Logger;
  /** Largest message (default 64 KiB, half of what AWS IoT accepts). */
  maxMessageBytes?: number;
  /** A partial message waits this long for more output while nothing else is on its way (default 20 ms). */
  flushDelayMs?: number;
  /** The terminal is held while more than this is waiting or unacknowledged (default 1 MiB). */
  highWaterBytes?: number;
  /** Messages published and not yet acknowledged at once (default 8). */
  maxInFlight?: number;
  /** Called once per library the dynamic loader could not find. */
  onMissingLibrary?: (library: string) => void;
}

export class SketchOutput {
  private readonly maxMessageBytes: number;
  private readonly flushDelayMs: number;
  private readonly highWaterBytes: number;
  private readonly maxInFlight: number;
  /** Output not yet cut into a message. */
  private partial: Buffer[] = [];
  private partialBytes = 0;
  private flushTimer: NodeJS.Timeout | undefined;
  /** Messages waiting for their turn. */
  private readonly ready: Buffer[] = [];
  private readyBytes = 0;
  private inFlight = 0;
  private inFlightBytes = 0;
  private pumping = false;
  private held = false;
  private readonly abort = new AbortController();
  private slotWaiter: (() => void) | undefined;
  private idleWaiters: (() => void)[] = [];
  private readonly detector: MissingLibraryDetector;
  private failures = 0;
  /** Bytes handed to the broker and acknowledged. */
  publishedBytes = 0;

  constructor(private readonly options: SketchOutputOptions) {
    this.maxMessageBytes = options.maxMessageBytes ?? 64 * 1024;
    this.flushDelayMs = options.flushDelayMs ?? 20;
    this.highWaterBytes = options.highWaterBytes ?? 1024 * 1024;
    this.maxInFlight = options.maxInFlight ?? 8;
    this.detector = new MissingLibraryDetector((library) => options.onMissingLibrary?.(library));
  }

  /** Bytes received and not yet acknowledged by the broker. */
  get backlogBytes(): number {
    return this.partialBytes + this.readyBytes + this.inFlightBytes;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.detector.feed(chunk);
    this.partial.push(chunk);
    this.partialBytes += chunk.length;
    while (this.partialBytes >= this.maxMessageBytes) this.cut(this.maxMessageBytes);
    if (this.partialBytes > 0 && !this.flushTimer) this.armFlush();
    if (!this.held && this.backlogBytes > this.highWaterBytes) {
      this.held = true;
      this.options.flow.holdOutput();
    }
  }

  /** Sends what is left; resolves once every message was acknowledged (or failed). */
  async drain(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.partialBytes > 0) this.cut(this.partialBytes);
    if (this.ready.length === 0 && this.inFlight === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops waiting on the rate limiter (shutdown): what is queued goes out without delay. */
  close(): void {
    this.abort.abort();
  }

  /**
   * A partial message goes out after the delay, unless earlier messages are still on their way:
   * then it would only wait in line, and waiting for more output makes fewer, fuller messages
   * (which the per-message rate limit counts).
   */
  private armFlush(): void {
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      if (this.partialBytes === 0) return;
      if (this.ready.length > 0 || this.inFlight > 0) this.armFlush();
      else this.cut(this.partialBytes);
    }, this.flushDelayMs);
  }

  /** Moves the first `bytes` of the partial output into one message. */
  private cut(bytes: number): void {
    const whole = this.partial.length === 1 ? this.partial[0]! : Buffer.concat(this.partial, this.partialBytes);
    const message = whole.subarray(0, bytes);
    const rest = whole.subarray(bytes);
    this.partial = rest.length > 0 ? [rest] : [];
    this.partialBytes = rest.length;
    this.ready.push(message);
    this.readyBytes += message.length;
    if (!this.pumping) void this.pump();
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (this.ready.length > 0) {
        if (this.inFlight >= this.maxInFlight) {
          await new Promise<void>((resolve) => (this.slotWaiter = resolve));
          continue;
        }
        await this.options.limiter.take(this.abort.signal);
        const message = this.ready.shift()!;
        this.readyBytes -= message.length;
        this.inFlight += 1;
        this.inFlightBytes += message.length;
        // Published in call order on one session, so the broker keeps the order per topic.
        const sends = this.options.topics.map((topic) => this.options.bus.publish(topic, message));
        void Promise.all(sends).then(
          () => this.settled(message.length, true),
          (err: unknown) => this.settled(message.length, false, err),
        );
      }
    } finally {
      this.pumping = false;
    }
    this.checkIdle();
  }

  private settled(bytes: number, ok: boolean, err?: unknown): void {
    this.inFlight -= 1;
    this.inFlightBytes -= bytes;
    if (ok) {
      this.publishedBytes += bytes;
      this.failures = 0;
    } else {
      // One line per run of failures: a broker that is away would otherwise flood the log.
      if (this.failures === 0) this.options.log.warn(`sketch output not published: ${errorMessage(err)}`);
      this.failures += 1;
    }
    const wake = this.slotWaiter;
    this.slotWaiter = undefined;
    wake?.();
    if (this.held && this.backlogBytes <= this.highWaterBytes / 2) {
      this.held = false;
      this.options.flow.releaseOutput();
    }
    this.checkIdle();
  }

  private checkIdle(): void {
    if (this.pumping || this.ready.length > 0 || this.inFlight > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

const marker = Buffer.from('error while loading shared libraries: ');
/** Enough to hold the loader's whole message across a chunk boundary. */
const seamBytes = 512;

/**
 * Finds the dynamic loader's "error while loading shared libraries: libX.so: cannot open shared
 * object file" in a stream of chunks, also when the message is split between two of them.
 */
export class MissingLibraryDetector {
  private tail = Buffer.alloc(0);
  private readonly reported = new Set<string>();

  constructor(private readonly report: (library: string) => void) {}

  feed(chunk: Buffer): void {
    if (this.tail.length > 0) this.scan(Buffer.concat([this.tail, chunk.subarray(0, seamBytes)]));
    this.scan(chunk);
    const keep = Math.min(seamBytes, chunk.length);
    this.tail = Buffer.concat([this.tail, chunk.subarray(chunk.length - keep)]).subarray(-seamBytes);
  }

  private scan(buffer: Buffer): void {
    for (let at = buffer.indexOf(marker); at >= 0; at = buffer.indexOf(marker, at + 1)) {
      const rest = buffer.toString('latin1', at + marker.length, at + marker.length + 300);
      const library = /^([^:\r\n]+): cannot open shared object file/.exec(rest)?.[1];
      if (library && !this.reported.has(library)) {
        this.reported.add(library);
        this.report(library);
      }
    }
  }
}
