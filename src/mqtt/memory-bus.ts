// An in-memory broker for the fast test tier: clients publish and subscribe with MQTT's topic
// matching, QoS and retain ignored, delivered on a later turn of the event loop as a broker would;
// a client's will is delivered when it is dropped rather than closed.
// The real-service tests run the same agent over mosquitto; this one only takes the network away.

import { EventEmitter } from 'node:events';
import type { MessageBus, MessageHandler, MessageMeta, PublishOptions, Will } from './message-bus.js';
import { topicMatcher } from './topic-match.js';

export interface PublishedMessage {
  topic: string;
  payload: Buffer;
  options: PublishOptions;
}

export class MemoryBroker {
  private readonly clients = new Set<MemoryBus>();

  /** A new client session, connected at once. */
  client(options: { will?: Will } = {}): MemoryBus {
    const bus = new MemoryBus(this, options.will);
    this.clients.add(bus);
    return bus;
  }

  /** @internal */
  deliver(message: PublishedMessage): void {
    const meta: MessageMeta = { qos: message.options.qos ?? 1 };
    if (message.options.responseTopic || message.options.correlationData) {
      meta.properties = { responseTopic: message.options.responseTopic, correlationData: message.options.correlationData };
    }
    for (const client of this.clients) client.receive(message.topic, message.payload, meta);
  }

  /** @internal */
  remove(bus: MemoryBus): void {
    this.clients.delete(bus);
  }
}

export class MemoryBus extends EventEmitter implements MessageBus {
  private readonly subscriptions = new Map<string, { matches: (topic: string) => boolean; handler: MessageHandler }>();
  private open = true;
  private readonly began = new Date();

  constructor(private readonly broker: MemoryBroker, private readonly will?: Will) {
    super();
  }

  get connected(): boolean {
    return this.open;
  }

  get sessionStart(): Date | undefined {
    return this.open ? this.began : undefined;
  }

  async publish(topic: string, payload: string | Buffer, options: PublishOptions = {}): Promise<void> {
    if (!this.open) throw new Error('not connected');
    const message = { topic, payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload), options };
    // A broker delivers after the publisher's turn, never inside its call.
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.broker.deliver(message);
  }

  async subscribe(filter: string, handler: MessageHandler): Promise<void> {
    this.subscriptions.set(filter, { matches: topicMatcher(filter), handler });
  }

  async unsubscribe(filter: string): Promise<void> {
    this.subscriptions.delete(filter);
  }

  /** Ends the session as a DISCONNECT does: later publishes fail, nothing more is delivered. */
  close(): void {
    if (!this.open) return;
    this.open = false;
    this.broker.remove(this);
    this.emit('offline');
  }

  /** Ends the session as a lost link does: as close(), and the broker delivers the will. */
  drop(): void {
    if (!this.open) return;
    this.close();
    const will = this.will;
    if (will) {
      const payload = Buffer.isBuffer(will.payload) ? will.payload : Buffer.from(will.payload);
      setImmediate(() => this.broker.deliver({ topic: will.topic, payload, options: { qos: will.qos, retain: will.retain } }));
    }
  }

  /** @internal */
  receive(topic: string, payload: Buffer, meta: MessageMeta): void {
    for (const { matches, handler } of this.subscriptions.values()) {
      if (matches(topic)) handler(topic, payload, meta);
    }
  }
}
