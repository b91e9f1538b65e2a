// A sketch's terminal output on its way to MQTT: chunks are coalesced into messages, a bounded
// number of messages per second per sketch (each as full as the waiting output allows, up to the
// largest message; a full one goes at once, as it could be no fuller), optionally within a byte rate for metered links, published in order to every
// output topic. The bus is the outbox, which takes a message while the broker is away too, so the
// terminal is held only while the broker (or the byte rate) is slower than the sketch and too much
// is waiting: a sketch never blocks on a dead link.

import { errorMessage, type Logger } from '../log.js';
import type { MessageBus } from '../mqtt/message-bus.js';
import { systemClock, type Clock } from './rate-limit.js';

/** What the output needs of the terminal: stop reading it and start again. */
export interface FlowControl {
  holdOutput(): void;
  releaseOutput(): void;
}

export interface SketchOutputOptions {
  bus: Pick<MessageBus, 'publish'>;
  /** Every message goes to each of these topics (B/stdout and B/sketches/<id>/stdout). */
  topics: string[];
  flow: FlowControl;
  log: Logger;
  /** Largest message (default 64 KiB, half of what AWS IoT accepts). */
  maxMessageBytes?: number;
  /** Messages per second at most (default 10) while they would not be full; output waiting
   * meanwhile goes in the next one. Full messages are not held back: the bound is there to make
   * messages fuller, not to cap a sketch's output rate (sketch_output_rate does that). */
  messagesPerSecond?: number;
  /** sketch_output_rate: bytes per second at most, for metered links (default 0: no limit). */
  bytesPerSecond?: number;
  /** The first output after a quiet spell waits this long for more (default 20 ms). */
  flushDelayMs?: number;
  /** The terminal is held while more than this is waiting or unacknowledged (default 1 MiB). */
  highWaterBytes?: number;
  /** Messages published and not yet acknowledged at once (default 8). */
  maxInFlight?: number;
  clock?: Clock;
  /** Called once per library the dynamic loader could not find. */
  onMissingLibrary?: (library: string) => void;
}

export class SketchOutput {
  private readonly maxMessageBytes: number;
  private readonly intervalMs: number;
  private readonly bytesPerSecond: number;
  private readonly flushDelayMs: number;
  private readonly highWaterBytes: number;
  private readonly maxInFlight: number;
  private readonly clock: Clock;
  /** Output not yet cut into a message. */
  private partial: Buffer[] = [];
  private partialBytes = 0;
  private flushTimer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private inFlightBytes = 0;
  private pumping = false;
  /** drain() asked for everything now. */
  private flushing = false;
  private held = false;
  private readonly abort = new AbortController();
  private slotWaiter: (() => void) | undefined;
  private idleWaiters: (() => void)[] = [];
  private readonly detector: MissingLibraryDetector;
  private failures = 0;
  /** When the next message may go (clock time). */
  private nextMessageAt = 0;
  /** The byte rate's budget: bytes that may go now, and when it was last filled. */
  private tokens: number;
  private tokensAt: number;
  /** Bytes handed to the broker and acknowledged (or kept by the outbox). */
  publishedBytes = 0;
  /** Messages sent. */
  messages = 0;

  constructor(private readonly options: SketchOutputOptions) {
    this.maxMessageBytes = options.maxMessageBytes ?? 64 * 1024;
    this.intervalMs = 1000 / Math.max(0.001, options.messagesPerSecond ?? 10);
    this.bytesPerSecond = options.bytesPerSecond ?? 0;
    this.flushDelayMs = options.flushDelayMs ?? 20;
    this.highWaterBytes = options.highWaterBytes ?? 1024 * 1024;
    this.maxInFlight = options.maxInFlight ?? 8;
    this.clock = options.clock ?? systemClock;
    this.tokens = this.bytesPerSecond;
    this.tokensAt = this.clock.now();
    this.detector = new MissingLibraryDetector((library) => options.onMissingLibrary?.(library));
  }

  /** Bytes received and not yet acknowledged. */
  get backlogBytes(): number {
    return this.partialBytes + this.inFlightBytes;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.detector.feed(chunk);
    this.partial.push(chunk);
    this.partialBytes += chunk.length;
    // While the pump runs it takes what arrives; otherwise a full message starts it at once, and
    // anything less waits for its timer (the flush delay, or the next message's turn).
    if (!this.pumping) {
      if (this.partialBytes >= this.maxMessageBytes) this.startPump();
      else this.flushTimer ??= setTimeout(this.startPump, this.flushDelayMs);
    }
    if (!this.held && this.backlogBytes > this.highWaterBytes) {
      this.held = true;
      this.options.flow.holdOutput();
    }
  }

  /** Sends what is left; resolves once every message was acknowledged (or failed). */
  async drain(): Promise<void> {
    this.flushing = true;
    if (this.partialBytes > 0) this.startPump();
    if (!this.pumping && this.inFlight === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops pacing (shutdown): what is waiting goes out without delay. */
  close(): void {
    this.abort.abort();
    if (this.partialBytes > 0) this.startPump();
  }

  private readonly startPump = (): void => {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (!this.pumping) void this.pump();
  };

  private async pump(): Promise<void> {
    this.pumping = true;
    const { signal } = this.abort;
    try {
      while (this.partialBytes > 0) {
        if (this.inFlight >= this.maxInFlight) {
          await new Promise<void>((resolve) => (this.slotWaiter = resolve));
          continue;
        }
        const wait = this.nextMessageAt - this.clock.now();
        if (wait > 0 && !signal.aborted && this.partialBytes < this.maxMessageBytes) {
          if (this.flushing) {
            await this.clock.sleep(wait, signal);
            continue;
          }
          // Not full and not its turn: the pump stops, and comes back on a timer at its turn, or
          // from push() once a message is full. Not a sleep that push() would cut short: at full
          // output that is an AbortController, an abort and its DOMException per message.
          this.flushTimer = setTimeout(this.startPump, wait);
          break;
        }
        let size = Math.min(this.partialBytes, this.maxMessageBytes);
        if (this.bytesPerSecond > 0 && !signal.aborted) {
          size = Math.min(size, this.bytesPerSecond);
          const lacking = size - this.refill();
          if (lacking > 0) {
            await this.clock.sleep((lacking / this.bytesPerSecond) * 1000, signal);
            continue;
          }
          this.tokens -= size;
        }
        this.nextMessageAt = this.clock.now() + this.intervalMs;
        this.send(this.cut(size));
      }
    } finally {
      this.pumping = false;
    }
    this.checkIdle();
  }

  /** The byte budget now (it fills at the byte rate, up to one second's worth). */
  private refill(): number {
    const now = this.clock.now();
    this.tokens = Math.min(this.bytesPerSecond, this.tokens + ((now - this.tokensAt) / 1000) * this.bytesPerSecond);
    this.tokensAt = now;
    return this.tokens;
  }

  /** Takes the first `bytes` of the waiting output as one message. */
  private cut(bytes: number): Buffer {
    this.partialBytes -= bytes;
    const first = this.partial[0]!;
    if (first.length >= bytes) {
      if (first.length === bytes) this.partial.shift();
      else this.partial[0] = first.subarray(bytes);
      return first.subarray(0, bytes);
    }
    // Only what this message takes is joined: up to the high-water mark may be waiting.
    const parts: Buffer[] = [];
    for (let taken = 0; taken < bytes; ) {
      const chunk = this.partial[0]!;
      const need = bytes - taken;
      if (chunk.length <= need) {
        parts.push(chunk);
        this.partial.shift();
        taken += chunk.length;
      } else {
        parts.push(chunk.subarray(0, need));
        this.partial[0] = chunk.subarray(need);
        taken = bytes;
      }
    }
    return Buffer.concat(parts, bytes);
  }

  private send(message: Buffer): void {
    this.inFlight += 1;
    this.inFlightBytes += message.length;
    this.messages += 1;
    // Published in call order, so the outbox (and the broker) keep the order per topic.
    const sends = this.options.topics.map((topic) => this.options.bus.publish(topic, message));
    void Promise.all(sends).then(
      () => this.settled(message.length, true),
      (err: unknown) => this.settled(message.length, false, err),
    );
  }

  private settled(bytes: number, ok: boolean, err?: unknown): void {
    this.inFlight -= 1;
    this.inFlightBytes -= bytes;
    if (ok) {
      this.publishedBytes += bytes;
      this.failures = 0;
    } else {
      // Not sent, so not counted: the byte budget gets it back.
      if (this.bytesPerSecond > 0) this.tokens = Math.min(this.bytesPerSecond, this.tokens + bytes);
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
    if (this.pumping || this.inFlight > 0) return;
    if (this.partialBytes > 0) {
      if (this.flushing) this.startPump();
      return;
    }
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
