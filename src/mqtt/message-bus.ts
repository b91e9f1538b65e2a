// What the agent needs of a broker session. MqttConnection is the real one; MemoryBroker's
// clients (memory-bus.ts) let the router and the features run in a test without a broker.

/** What a handler may need of an incoming message beyond its topic and payload: its QoS and the
 * MQTT 5 request/response properties (an MQTT.js packet has this shape). */
export interface MessageMeta {
  qos?: 0 | 1 | 2;
  properties?: { responseTopic?: string; correlationData?: Buffer };
}

export type MessageHandler = (topic: string, payload: Buffer, meta: MessageMeta) => void;

export interface PublishOptions {
  qos?: 0 | 1;
  retain?: boolean;
  responseTopic?: string;
  correlationData?: Buffer;
  /** MQTT 5 user properties (the outbox's sequence number); not sent over MQTT 3.1.1. */
  userProperties?: Record<string, string>;
}

/** The message the broker publishes for this client when its session ends without a DISCONNECT
 * (killed process, lost link). The bus knows it as bytes; what it says is its owner's business. */
export interface Will {
  topic: string;
  payload: string | Buffer;
  qos: 0 | 1;
  retain: boolean;
}

export interface MessageBus {
  /** Resolves once the broker acknowledged it (QoS 1), or once it is written (QoS 0). */
  publish(topic: string, payload: string | Buffer, options?: PublishOptions): Promise<void>;
  /** One handler per filter; the subscription survives reconnections. */
  subscribe(filter: string, handler: MessageHandler): Promise<void>;
  unsubscribe(filter: string): Promise<void>;
  readonly connected: boolean;
  /** When the current session began (the broker accepted it); undefined while there is none.
   * 'connect' is emitted once per session, after this is set and subscriptions are back. */
  readonly sessionStart: Date | undefined;
  on(event: 'connect' | 'offline', listener: () => void): this;
  off(event: 'connect' | 'offline', listener: () => void): this;
}
