// A client of the device API for people and scripts (and the tests): publishes a request on
// `B/<command>/post` and waits for its answer. Over MQTT 5 it names a private response topic with
// correlation data, so concurrent calls never take each other's answers; over 3.1.1 it takes the
// next answer on `B/<command>`.

import { randomBytes, randomUUID } from 'node:crypto';
import { baseTopic, DEFAULT_BASE_TOPIC, parseReply, topics, validateRequest, type CommandName, type Reply, type RequestOf } from './api.js';
import { silentLogger, type Logger } from './log.js';
import type { MqttVersion } from './settings.js';
import { MqttConnection } from './mqtt/connection.js';
import type { MessageBus, MessageHandler } from './mqtt/message-bus.js';

export interface ClientOptions {
  broker: string;
  deviceId: string;
  baseTopic?: string;
  clientId?: string;
  certPath?: string;
  username?: string;
  password?: string;
  /** How long to wait for the broker (default 10 s). */
  connectTimeoutMs?: number;
  log?: Logger;
  /** MQTT version: auto (default: 5, falling back to 3.1.1), 5 or 3.1.1. */
  mqttVersion?: MqttVersion;
}

export class TimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TimeoutError';
  }
}

interface Pending {
  resolve(reply: Reply): void;
}

export class ConnectorClient {
  readonly base: string;
  private readonly replyTopic: string;
  private readonly pending = new Map<string, Pending>();
  private readonly fifo = new Map<string, Pending[]>();
  private readonly answerTopics = new Set<string>();

  private constructor(
    private readonly connection: MessageBus,
    options: Pick<ClientOptions, 'deviceId' | 'baseTopic'>,
    /** The MQTT version in use: requests carry a response topic only over 5. */
    private readonly version: () => 4 | 5,
    /** Stops the session when the client made it. */
    private readonly end: () => Promise<void>,
  ) {
    this.base = baseTopic(options.baseTopic ?? DEFAULT_BASE_TOPIC, options.deviceId);
    this.replyTopic = `arduino-connector/replies/${randomUUID()}`;
  }

  /** A client over a session someone else started and stops (the fast tests' in-memory bus). */
  static async over(bus: MessageBus, options: Pick<ClientOptions, 'deviceId' | 'baseTopic'>): Promise<ConnectorClient> {
    const client = new ConnectorClient(bus, options, () => 5, async () => {
      await bus.unsubscribe(client.replyTopic);
    });
    await client.listenForReplies();
    return client;
  }

  static async connect(options: ClientOptions): Promise<ConnectorClient> {
    const connection = new MqttConnection(
      {
        url: options.broker,
        clientId: options.clientId ?? `arduino-connector-client-${randomBytes(6).toString('hex')}`,
        certPath: options.certPath,
        username: options.username,
        password: options.password,
        mqttVersion: options.mqttVersion,
        backoff: { initialMs: 100, maxMs: 1000 },
      },
      options.log ?? silentLogger,
    );
    const client = new ConnectorClient(connection, options, () => connection.version, () => connection.stop());
    const timeoutMs = options.connectTimeoutMs ?? 10_000;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        void connection.stop();
        reject(new TimeoutError(`no connection to ${options.broker} within ${timeoutMs} ms`));
      }, timeoutMs);
      connection.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      try {
        connection.start();
      } catch (err) {
        clearTimeout(timer);
        reject(err);
      }
    });
    await client.listenForReplies();
    return client;
  }

  private async listenForReplies(): Promise<void> {
    await this.connection.subscribe(this.replyTopic, (_t, payload, meta) => {
      const id = meta.properties?.correlationData?.toString('hex');
      const waiting = id ? this.pending.get(id) : undefined;
      if (!id || !waiting) return;
      this.pending.delete(id);
      waiting.resolve(parseReply(payload.toString('utf8')));
    });
  }

  get protocolVersion(): 4 | 5 {
    return this.version();
  }

  /** Validates the request against the API map, sends it, and waits for the answer. */
  async call<K extends CommandName>(command: K, request: RequestOf<K>, timeoutMs = 30_000): Promise<Reply> {
    validateRequest(command, request);
    return this.callRaw(command, JSON.stringify(request), timeoutMs);
  }

  /** Sends any payload, valid or not (tests of the agent's error answers use this). */
  async callRaw(command: string, payload: string | Buffer, timeoutMs = 30_000): Promise<Reply> {
    const answerTopic = topics.answer(this.base, command);
    const requestTopic = topics.request(this.base, command);
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new TimeoutError(`no answer to ${command} within ${timeoutMs} ms`));
      }, timeoutMs);
      const settle = (reply: Reply) => {
        clearTimeout(timer);
        resolve(reply);
      };
      let cleanup = () => {};
      const send = async () => {
        if (this.version() === 5) {
          const id = randomBytes(8);
          const entry = { resolve: settle };
          this.pending.set(id.toString('hex'), entry);
          cleanup = () => this.pending.delete(id.toString('hex'));
          await this.connection.publish(requestTopic, payload, { qos: 1, responseTopic: this.replyTopic, correlationData: id });
        } else {
          await this.watchAnswers(answerTopic);
          const queue = this.fifo.get(answerTopic) ?? [];
          const entry = { resolve: settle };
          queue.push(entry);
          this.fifo.set(answerTopic, queue);
          cleanup = () => {
            const q = this.fifo.get(answerTopic);
            if (q) q.splice(q.indexOf(entry) >>> 0, 1);
          };
          await this.connection.publish(requestTopic, payload, { qos: 1 });
        }
      };
      send().catch((err) => {
        clearTimeout(timer);
        cleanup();
        reject(err);
      });
    });
  }

  private async watchAnswers(answerTopic: string): Promise<void> {
    if (this.answerTopics.has(answerTopic)) return;
    this.answerTopics.add(answerTopic);
    await this.connection.subscribe(answerTopic, (_t, payload) => {
      const next = this.fifo.get(answerTopic)?.shift();
      next?.resolve(parseReply(payload.toString('utf8')));
    });
  }

  /** Follows a stream of the device (heartbeat, status, stdout...). */
  async follow(topic: string, handler: MessageHandler): Promise<void> {
    await this.connection.subscribe(topic, handler);
  }

  async publish(topic: string, payload: string | Buffer): Promise<void> {
    await this.connection.publish(topic, payload, { qos: 1 });
  }

  async close(): Promise<void> {
    await this.end();
  }
}
