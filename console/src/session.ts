// The browser's one MQTT session with the broker: subscriptions shared by the views, requests to
// devices with their answers, and the broker's credentials when it asks for them (kept in this
// object only, for the life of the page).

import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { parseReply, type Reply } from '../../src/api/answer.js';
import { topics } from '../../src/api/topics.js';
import { isCommandName, validateRequest } from '../../src/api.js';
import { topicMatches } from './topics.js';

export type SessionState =
  | { kind: 'connecting' }
  | { kind: 'connected'; protocol: 5 | 4 }
  | { kind: 'needs-login'; reason: string }
  | { kind: 'offline'; reason: string };

export type MessageListener = (topic: string, payload: Uint8Array) => void;

/** An answer, or the note that none came in time. */
export type RequestResult = Reply & { timedOut?: boolean };

interface Pending {
  resolve(result: RequestResult): void;
  timer: ReturnType<typeof setTimeout>;
  /** MQTT 3.1.1: the answer topic it waits on. */
  answerTopic?: string;
}

const NOT_AUTHORIZED = new Set([4, 5, 134, 135]);
const decoder = new TextDecoder();

function randomHex(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, '0')).join('');
}

function refusalOf(command: string, body: object): string | undefined {
  if (!isCommandName(command)) return `unknown command ${command}`;
  try {
    validateRequest(command, body);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

export class Session {
  state: SessionState = { kind: 'connecting' };
  private client: MqttClient | undefined;
  private credentials: { username: string; password: string } | undefined;
  private protocol: 5 | 4 = 5;
  private readonly clientId = `console-${randomHex(6)}`;
  private readonly replyPrefix = `arduino-connector-console/${this.clientId}`;
  private readonly subscriptions = new Map<string, Set<MessageListener>>();
  private readonly subscriptionQos = new Map<string, 0 | 1>();
  private readonly pending = new Map<string, Pending>();
  /** MQTT 3.1.1: requests waiting on an answer topic, oldest first. */
  private readonly waitingOnTopic = new Map<string, string[]>();
  private readonly stateListeners = new Set<(state: SessionState) => void>();

  constructor(
    private readonly brokerUrl: string,
    /** How long a request waits for its answer before the page says none came. */
    private readonly answerTimeoutMs: number,
  ) {}

  start(): void {
    this.open();
  }

  onState(listener: (state: SessionState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** The user name last typed, to fill the form in again after a refusal. */
  get username(): string {
    return this.credentials?.username ?? '';
  }

  /** Connects again with the credentials the user typed. */
  login(username: string, password: string): void {
    this.credentials = { username, password };
    this.open();
  }

  /** Listens to a topic filter until the returned function is called. QoS 1 for what must not be
   * lost (retained presence arrives as one burst per device, which a broker's queue for a QoS 0
   * subscriber may cut short). */
  subscribe(filter: string, listener: MessageListener, qos: 0 | 1 = 0): () => void {
    let listeners = this.subscriptions.get(filter);
    if (!listeners) {
      listeners = new Set();
      this.subscriptions.set(filter, listeners);
      this.subscriptionQos.set(filter, qos);
      if (this.state.kind === 'connected') this.client?.subscribe(filter, { qos });
    }
    listeners.add(listener);
    return () => {
      const set = this.subscriptions.get(filter);
      if (!set) return;
      set.delete(listener);
      if (set.size === 0) {
        this.subscriptions.delete(filter);
        this.subscriptionQos.delete(filter);
        if (this.state.kind === 'connected') this.client?.unsubscribe(filter);
      }
    };
  }

  publish(topic: string, payload: string | Uint8Array): void {
    this.client?.publish(topic, payload as string, { qos: 0 });
  }

  /** Sends `B/<command>/post` and waits for its answer: with MQTT 5 on a response topic of this
   * session matched by correlation data; with 3.1.1 the next message on `B/<command>`. */
  request(base: string, command: string, body: object, timeoutMs = this.answerTimeoutMs): Promise<RequestResult> {
    // The agent's own API map checks the request first: what it would refuse is never sent.
    const refusal = refusalOf(command, body);
    if (refusal) return Promise.resolve({ ok: false, message: `not sent: ${refusal}` });
    return new Promise((resolve) => {
      const client = this.client;
      if (!client || this.state.kind !== 'connected') {
        resolve({ ok: false, message: 'not connected to the broker' });
        return;
      }
      const key = randomHex(8);
      const timer = setTimeout(() => this.settle(key, { ok: false, timedOut: true, message: `no answer from the device within ${Math.round(timeoutMs / 1000)} s` }), timeoutMs);
      const payload = JSON.stringify(body);
      if (this.protocol === 5) {
        this.pending.set(key, { resolve, timer });
        const encoder = new TextEncoder();
        client.publish(topics.request(base, command), payload, {
          qos: 1,
          properties: { responseTopic: `${this.replyPrefix}/${command}`, correlationData: encoder.encode(key) as unknown as Buffer },
        });
        return;
      }
      const answerTopic = topics.answer(base, command);
      this.pending.set(key, { resolve, timer, answerTopic });
      const queue = this.waitingOnTopic.get(answerTopic) ?? [];
      if (queue.length === 0) client.subscribe(answerTopic, { qos: 1 }, () => client.publish(topics.request(base, command), payload, { qos: 1 }));
      else client.publish(topics.request(base, command), payload, { qos: 1 });
      queue.push(key);
      this.waitingOnTopic.set(answerTopic, queue);
    });
  }

  private settle(key: string, result: RequestResult): void {
    const pending = this.pending.get(key);
    if (!pending) return;
    this.pending.delete(key);
    clearTimeout(pending.timer);
    if (pending.answerTopic) {
      const queue = (this.waitingOnTopic.get(pending.answerTopic) ?? []).filter((k) => k !== key);
      if (queue.length === 0) {
        this.waitingOnTopic.delete(pending.answerTopic);
        if (!this.subscriptions.has(pending.answerTopic)) this.client?.unsubscribe(pending.answerTopic);
      } else this.waitingOnTopic.set(pending.answerTopic, queue);
    }
    pending.resolve(result);
  }

  private setState(state: SessionState): void {
    this.state = state;
    for (const listener of this.stateListeners) listener(state);
  }

  private open(): void {
    this.client?.end(true);
    this.setState({ kind: 'connecting' });
    const options: IClientOptions = {
      clientId: this.clientId,
      protocolVersion: this.protocol,
      reconnectPeriod: 2000,
      connectTimeout: 10_000,
      clean: true,
      ...(this.credentials ?? {}),
    };
    const client = mqtt.connect(this.brokerUrl, options);
    this.client = client;
    let connected = false;
    // A broker that cannot be reached at all says nothing about the MQTT versions it speaks.
    let unreachable = false;
    client.on('connect', () => {
      connected = true;
      this.setState({ kind: 'connected', protocol: this.protocol });
      const filters: Record<string, { qos: 0 | 1 }> = {};
      for (const [filter, qos] of this.subscriptionQos) filters[filter] = { qos };
      for (const topic of this.waitingOnTopic.keys()) filters[topic] = { qos: 1 };
      if (this.protocol === 5) filters[`${this.replyPrefix}/#`] = { qos: 1 };
      if (Object.keys(filters).length > 0) client.subscribe(filters);
    });
    client.on('error', (err: Error & { code?: number }) => {
      if (client !== this.client) return;
      if (err.code !== undefined && NOT_AUTHORIZED.has(err.code)) {
        client.end(true);
        this.setState({ kind: 'needs-login', reason: this.credentials ? 'the broker refused these credentials' : 'the broker asks for credentials' });
        return;
      }
      // A broker that speaks only 3.1.1 refuses version 5 (code 1 in 3.1.1 terms, 132 in 5's).
      if (this.protocol === 5 && !connected && (err.code === 1 || err.code === 132)) {
        this.protocol = 4;
        this.open();
        return;
      }
      if (err.code === undefined || typeof err.code !== 'number') unreachable = true;
      this.setState({ kind: 'offline', reason: err.message });
    });
    client.on('close', () => {
      if (client !== this.client || this.state.kind === 'needs-login') return;
      // Some 3.1.1-only brokers hang up on a version 5 CONNECT without answering.
      if (this.protocol === 5 && !connected && !unreachable) {
        this.protocol = 4;
        this.open();
        return;
      }
      if (this.state.kind === 'connected') this.setState({ kind: 'offline', reason: 'connection lost; reconnecting' });
    });
    client.on('message', (topic, payload, packet) => {
      if (topic.startsWith(`${this.replyPrefix}/`)) {
        const correlation = packet.properties?.correlationData;
        if (correlation) this.settle(decoder.decode(correlation), parseReply(decoder.decode(payload)));
        return;
      }
      const waiting = this.waitingOnTopic.get(topic)?.[0];
      if (waiting) this.settle(waiting, parseReply(decoder.decode(payload)));
      for (const [filter, listeners] of this.subscriptions) {
        if (!topicMatches(filter, topic)) continue;
        for (const listener of listeners) listener(topic, payload);
      }
    });
  }
}
