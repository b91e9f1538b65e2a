// An in-memory broker for the fast test tier: clients publish and subscribe with MQTT's topic
// matching, QoS and retain ignored, delivered on a later turn of the event loop as a broker would.
// The real-service tests run the same agent over mosquitto; this one only takes the network away.

import { EventEmitter } from 'node:events';
import type { MessageBus, MessageHandler, MessageMeta, PublishOptions } from './message-bus.js';
import { topicMatcher } from './topic-match.js';

export interface PublishedMessage {
  topic: string;
  payload: Buffer;
  options: PublishOptions;
}

export class MemoryBroker {
  private readonly clients = new Set<MemoryBus>();

  /** A new client session, connected at once. */
  client(): MemoryBus {
    const bus = new MemoryBus(this);
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

  constructor(private readonly broker: MemoryBroker) {
    super();
  }

  get connected(): boolean {
    return this.open;
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

  /** Ends the session: later publishes fail, nothing more is delivered. */
  close(): void {
    this.open = false;
    this.broker.remove(this);
    this.emit('offline');
  }

  /** @internal */
  receive(topic: string, payload: Buffer, meta: MessageMeta): void {
    for (const { matches, handler } of this.subscriptions.values()) {
      if (matches(topic)) handler(topic, payload, meta);
    }
  }
}
