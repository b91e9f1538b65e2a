// The way of the durable streams (sketch output, B/status, B/shadow/update) to the broker: nothing
// they say is lost while the broker is away, and nothing overtakes anything.
//
// While the broker is reachable and nothing is queued, a message is published at once (QoS 1) and
// its publish resolves on the broker's acknowledgement. When a publish fails because the link went
// down, or is asked for while it is down, that message, every one still unacknowledged, and every
// later one go to the record log on disk (record-log.ts), in call order, and the publish resolves
// once it is there: a sketch never waits on a dead link. On reconnect the log is delivered in order,
// a window of messages at a time, each record's removal waiting for its acknowledgement; what is
// published meanwhile goes behind it; once it is empty, publishes go straight out again. A full log
// drops its oldest messages; how many bytes and messages is published once, on B/outbox/dropped,
// before the rest is delivered.
//
// Every message carries an MQTT 5 user property `seq`, a number that grows across every durable
// message and every restart. A message can reach the broker twice only when its acknowledgement
// and the agent's kill (or the link's loss) cross: a subscriber that keeps, per topic, the highest
// `seq` it saw, and drops what is not above it, sees each message once (MQTT 3.1.1 has no user
// properties: there, such a message arrives twice). Also a message in flight when the link drops
// may have reached the broker (and MQTT.js sends it again on reconnect): it is queued all the same,
// with its seq, since nothing says it arrived.

import { encodeStream } from '../api.js';
import { RecordLog, type LogRecord } from '../lib/record-log.js';
import { SerialQueue } from '../lib/serial-queue.js';
import { errorMessage, type Logger } from '../log.js';
import type { MessageBus, PublishOptions } from './message-bus.js';

export interface OutboxOptions {
  bus: MessageBus;
  /** Folder of the record log (made 0700). */
  dir: string;
  /** offline_queue_size: bytes the log may hold; 0: no log (a failed publish is the caller's). */
  maxBytes: number;
  /** Where dropped bytes are reported (B/outbox/dropped). */
  droppedTopic: string;
  log: Logger;
  segmentBytes?: number;
  syncIntervalMs?: number;
  /** Queued messages published and not yet acknowledged at once while the log drains (default 32). */
  window?: number;
}

interface Direct {
  seq: number;
  topic: string;
  payload: Buffer;
  retain: boolean;
  /** Moved to the log: whatever its publish says now is ignored. */
  moved: boolean;
  resolve(): void;
  reject(err: unknown): void;
}

type Outcome = 'acked' | 'refused' | 'lost';

export class Outbox implements Pick<MessageBus, 'publish'> {
  private records: RecordLog | undefined;
  /** Messages go to the log (something is queued, or the link is down). */
  private queueing = false;
  private readonly direct: Direct[] = [];
  private readonly appends = new SerialQueue();
  private pendingAppends = 0;
  private draining: Promise<void> | undefined;
  private stopped = true;

  constructor(private readonly options: OutboxOptions) {}

  /** Opens the log (its failure leaves the outbox publishing directly, as without one). */
  async start(): Promise<void> {
    if (this.options.maxBytes <= 0) return;
    const { dir, maxBytes, segmentBytes, syncIntervalMs, log } = this.options;
    this.records = await RecordLog.open(dir, { maxBytes, segmentBytes, syncIntervalMs, log });
    const dropped = this.records.droppedSinceReport;
    this.queueing = !this.records.empty || dropped.bytes > 0;
    if (this.queueing) log.info(`outbox: ${this.records.queuedBytes} bytes queued from before`);
    this.stopped = false;
    this.options.bus.on('connect', this.kick);
    this.kick();
  }

  /** Bytes waiting in the log. */
  get queuedBytes(): number {
    return this.records?.queuedBytes ?? 0;
  }

  /** Resolves once the broker acknowledged the message or it is in the log. */
  publish(topic: string, payload: string | Buffer, options: PublishOptions = {}): Promise<void> {
    const records = this.records;
    const { bus } = this.options;
    const retain = options.retain ?? false;
    if (!records) return bus.publish(topic, payload, { qos: 1, retain });
    const seq = records.takeSeq();
    const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
    if (this.queueing || !bus.connected) {
      this.queueing = true;
      return this.enqueue(seq, topic, data, retain);
    }
    return new Promise<void>((resolve, reject) => {
      const entry: Direct = { seq, topic, payload: data, retain, moved: false, resolve, reject };
      this.direct.push(entry);
      bus.publish(topic, data, { qos: 1, retain, userProperties: seqProperty(seq) }).then(
        () => {
          if (entry.moved) return;
          this.direct.splice(this.direct.indexOf(entry), 1);
          resolve();
        },
        (err: unknown) => {
          if (!entry.moved) this.directFailed(entry, err);
        },
      );
    });
  }

  private directFailed(entry: Direct, err: unknown): void {
    if (this.options.bus.connected) {
      // The broker refused this one message (a reason code): retrying would block the rest.
      this.direct.splice(this.direct.indexOf(entry), 1);
      entry.reject(err);
      return;
    }
    this.queueing = true;
    for (const waiting of this.direct.splice(0)) {
      waiting.moved = true;
      this.enqueue(waiting.seq, waiting.topic, waiting.payload, waiting.retain).then(waiting.resolve, waiting.reject);
    }
  }

  private enqueue(seq: number, topic: string, payload: Buffer, retain: boolean): Promise<void> {
    const records = this.records;
    if (!records) return Promise.reject(new Error('the outbox is closed'));
    this.pendingAppends += 1;
    const body = encodeMessage(topic, payload, retain);
    return this.appends.run(() => records.append(seq, body)).finally(() => {
      this.pendingAppends -= 1;
      this.kick();
    });
  }

  private readonly kick = (): void => {
    if (this.draining || this.stopped || !this.queueing || !this.records || !this.options.bus.connected) return;
    this.draining = this.drain(this.records)
      .then((ended) => {
        // The link came back while this delivery was still winding down from its loss: that
        // 'connect' found it running, so it is started again here.
        if (ended === 'lost') setImmediate(this.kick);
      })
      .catch((err: unknown) => this.options.log.warn(`outbox: delivery stopped: ${errorMessage(err)}`))
      .finally(() => (this.draining = undefined));
  };

  /** Delivers the log in order until it is empty (publishes go straight out again) or the link is lost. */
  private async drain(records: RecordLog): Promise<'empty' | 'lost' | 'stopped'> {
    const { bus, log } = this.options;
    const window = this.options.window ?? 32;
    const dropped = records.droppedSinceReport;
    if (dropped.bytes > 0 || dropped.records > 0) {
      try {
        await bus.publish(this.options.droppedTopic, encodeStream('outbox/dropped', { bytes: dropped.bytes, messages: dropped.records }), { qos: 1 });
      } catch (err) {
        if (!bus.connected) return 'lost';
        // Refused by the broker: retrying would hold the queue back for good.
        log.warn(`outbox: the dropped-messages report was refused by the broker: ${errorMessage(err)}`);
      }
      log.warn(`outbox: ${dropped.records} messages (${dropped.bytes} bytes) were dropped while the broker was away`);
      await records.reported(dropped);
    }
    records.rewind();
    const inFlight: { record: LogRecord; sent: Promise<Outcome> }[] = [];
    /** Waits for the oldest message in flight; false once the link is lost. */
    const settle = async (): Promise<boolean> => {
      const { record, sent } = inFlight.shift()!;
      const outcome = await sent;
      if (outcome === 'lost') return false;
      void records.ack(record).catch((err: unknown) => log.warn(`outbox state not written: ${errorMessage(err)}`));
      return true;
    };
    while (!this.stopped) {
      if (!bus.connected) return 'lost';
      const record = await records.read();
      if (!record) {
        while (inFlight.length > 0) if (!(await settle())) return 'lost';
        if (this.pendingAppends > 0) {
          await this.appends.run(async () => {});
          continue;
        }
        if (records.empty) {
          this.queueing = false;
          log.debug('outbox: delivered');
          return 'empty';
        }
        records.rewind();
        continue;
      }
      const message = decodeMessage(record.body);
      const sent = bus.publish(message.topic, message.payload, { qos: 1, retain: message.retain, userProperties: seqProperty(record.seq) }).then(
        (): Outcome => 'acked',
        (err: unknown): Outcome => {
          if (!bus.connected) return 'lost';
          log.warn(`outbox: a message on ${message.topic} refused by the broker: ${errorMessage(err)}`);
          return 'refused';
        },
      );
      inFlight.push({ record, sent });
      if (inFlight.length >= window && !(await settle())) return 'lost';
    }
    return 'stopped';
  }

  /** Lets direct publishes settle (a little), then writes the log's state and closes it. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.options.bus.off('connect', this.kick);
    const settled = async () => {
      while (this.direct.length > 0) await new Promise((r) => setTimeout(r, 10));
      await this.draining;
      await this.appends.run(async () => {});
    };
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([settled(), new Promise((r) => (timer = setTimeout(r, 2000)))]);
    clearTimeout(timer);
    const records = this.records;
    this.records = undefined;
    await records?.close();
  }
}

const seqProperty = (seq: number) => ({ seq: String(seq) });

/** A message as a record's body: flags (1: retain), the topic's length (u16) and bytes, the payload. */
export function encodeMessage(topic: string, payload: Buffer, retain: boolean): Buffer {
  const topicBytes = Buffer.from(topic);
  const body = Buffer.allocUnsafe(3 + topicBytes.length + payload.length);
  body.writeUInt8(retain ? 1 : 0, 0);
  body.writeUInt16LE(topicBytes.length, 1);
  topicBytes.copy(body, 3);
  payload.copy(body, 3 + topicBytes.length);
  return body;
}

export function decodeMessage(body: Buffer): { topic: string; payload: Buffer; retain: boolean } {
  const length = body.readUInt16LE(1);
  return { retain: (body.readUInt8(0) & 1) === 1, topic: body.toString('utf8', 3, 3 + length), payload: body.subarray(3 + length) };
}
