// The one MQTT session of the device: connects (plain, TLS or mutual TLS), reconnects forever with
// capped exponential back-off, re-subscribes after every (re)connection, and dispatches incoming
// messages to the handler of the subscription they match.

import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type IClientPublishOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import { ConfigError } from '../errors.js';
import { errorMessage, type Logger } from '../log.js';
import { redactPayload } from './redact.js';
import { topicMatcher } from './topic-match.js';

export interface ConnectionSettings {
  /** A host name (→ mqtts://host:8883 with the device certificate) or a URL with a scheme. */
  url: string;
  clientId: string;
  /** Folder holding certificate.pem and certificate.key (and optionally ca.pem). */
  certPath?: string;
  /** 5 (default) falls back to 3.1.1 when the broker refuses MQTT 5; 4 is 3.1.1 only. */
  protocolVersion?: 4 | 5;
  username?: string;
  password?: string;
  keepaliveSeconds?: number;
  backoff?: { initialMs: number; maxMs: number };
  debugMqtt?: boolean;
}

export type MessageHandler = (topic: string, payload: Buffer, packet: IPublishPacket) => void;

export interface PublishOptions {
  qos?: 0 | 1;
  retain?: boolean;
  responseTopic?: string;
  correlationData?: Buffer;
}

/** What the rest of the agent needs of a broker session; tests can start parts on a real one. */
export interface MessageBus {
  publish(topic: string, payload: string | Buffer, options?: PublishOptions): Promise<void>;
  subscribe(filter: string, handler: MessageHandler): Promise<void>;
  unsubscribe(filter: string): Promise<void>;
  readonly connected: boolean;
  on(event: 'connect' | 'offline', listener: () => void): this;
  off(event: 'connect' | 'offline', listener: () => void): this;
}

interface ResolvedBroker {
  url: string;
  options: IClientOptions;
}

function readCredential(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`cannot read the ${what} ${path}: ${errorMessage(err)}`);
  }
}

/** Turns the configured `url` into MQTT.js options. A bare host means AWS IoT style mutual TLS. */
export function resolveBroker(settings: ConnectionSettings): ResolvedBroker {
  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(settings.url);
  const url = hasScheme ? settings.url : `mqtts://${settings.url}:8883`;
  const scheme = url.slice(0, url.indexOf(':')).toLowerCase();
  if (!['mqtt', 'mqtts', 'ws', 'wss', 'tcp', 'ssl', 'tls'].includes(scheme)) {
    throw new ConfigError(`url "${settings.url}": unsupported scheme "${scheme}" (use mqtt, mqtts, ws or wss)`);
  }
  const options: IClientOptions = {
    clientId: settings.clientId,
    clean: true,
    keepalive: settings.keepaliveSeconds ?? 30,
    protocolVersion: settings.protocolVersion ?? 5,
    // Reconnection is ours (capped exponential back-off), and so is re-subscription.
    reconnectPeriod: 0,
    resubscribe: false,
    connectTimeout: 10_000,
    // A heartbeat that could not go out is stale by the time the broker is back.
    queueQoSZero: false,
    // Without this MQTT.js pre-builds 65,536 two-byte buffers on its first packet (about 6 MiB of
    // heap for the agent's whole life) to save one tiny allocation per packet id.
    writeCache: false,
  };
  if (settings.username !== undefined) options.username = settings.username;
  if (settings.password !== undefined) options.password = settings.password;

  const secure = ['mqtts', 'wss', 'ssl', 'tls'].includes(scheme);
  if (secure && settings.certPath) {
    const certFile = join(settings.certPath, 'certificate.pem');
    const keyFile = join(settings.certPath, 'certificate.key');
    const caFile = join(settings.certPath, 'ca.pem');
    // With a bare host the device certificate is mandatory; with an explicit URL it is used
    // when present.
    const required = !hasScheme;
    let cert: Buffer | undefined;
    let key: Buffer | undefined;
    try {
      cert = readFileSync(certFile);
    } catch (err) {
      if (required || (err as NodeJS.ErrnoException).code !== 'ENOENT') readCredential(certFile, 'client certificate');
    }
    if (cert) {
      key = readCredential(keyFile, 'client key');
      options.cert = cert;
      options.key = key;
    }
    try {
      options.ca = readFileSync(caFile);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') readCredential(caFile, 'CA certificate');
    }
  } else if (!hasScheme) {
    throw new ConfigError(`url "${settings.url}" is a host name, which means mutual TLS: cert_path must name the folder with certificate.pem and certificate.key`);
  }
  return { url, options };
}

const unsupportedProtocol = new Set([1, 132]);
const stableSessionMs = 10_000;

/** The URL as it may be logged: a password in it is replaced. */
export function withoutCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.password) return url;
    parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:***@');
  }
}

export class MqttConnection extends EventEmitter implements MessageBus {
  private client: MqttClient | undefined;
  private readonly subscriptions = new Map<string, MessageHandler>();
  private readonly wildcards = new Map<string, (topic: string) => boolean>();
  /** Publishes waiting for the broker's acknowledgement, failed when the connection drops (MQTT.js
   * would otherwise leave them pending for good, and whoever awaits them stuck). */
  private readonly inFlight = new Set<(err: Error) => void>();
  private stableTimer: NodeJS.Timeout | undefined;
  private protocolVersion: 4 | 5;
  private delayMs: number;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private lastFailure = '';
  private writesHeld = false;

  constructor(private readonly settings: ConnectionSettings, private readonly log: Logger) {
    super();
    this.protocolVersion = settings.protocolVersion ?? 5;
    this.delayMs = this.backoff.initialMs;
  }

  private get backoff() {
    return this.settings.backoff ?? { initialMs: 250, maxMs: 5000 };
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  /** The MQTT version in use: 5, or 4 after a broker refused 5. */
  get version(): 4 | 5 {
    return this.protocolVersion;
  }

  /** Starts connecting; resolves once options are valid (the broker may still be down). */
  start(): void {
    const { url, options } = resolveBroker({ ...this.settings, protocolVersion: this.protocolVersion });
    this.stopped = false;
    const shownUrl = withoutCredentials(url);
    this.log.info(`connecting to ${shownUrl} as ${this.settings.clientId} (MQTT ${this.protocolVersion === 5 ? '5' : '3.1.1'})`);
    const client = mqtt.connect(url, options);
    this.client = client;
    client.on('connect', () => {
      // Answers are small packets: without this, Nagle's algorithm and the peer's delayed ACK
      // hold each one for tens of milliseconds.
      const stream = client.stream as { setNoDelay?: (noDelay: boolean) => unknown } | undefined;
      stream?.setNoDelay?.(true);
      // A broker that accepts and then drops the session at once (a duplicate client id, say)
      // must not be hammered: the back-off starts over only once a session lasted a while.
      if (this.stableTimer) clearTimeout(this.stableTimer);
      this.stableTimer = setTimeout(() => (this.delayMs = this.backoff.initialMs), stableSessionMs);
      this.stableTimer.unref?.();
      this.lastFailure = '';
      this.log.info(`connected to ${shownUrl}`);
      void this.resubscribe(client).then(() => this.emit('connect'));
    });
    client.on('message', (topic, payload, packet) => this.dispatch(topic, payload, packet));
    client.on('error', (err) => this.onError(client, err));
    client.on('close', () => {
      if (this.stableTimer) clearTimeout(this.stableTimer);
      this.stableTimer = undefined;
      this.failInFlight();
      if (client !== this.client || this.stopped) return;
      this.emit('offline');
      this.scheduleReconnect(client);
    });
  }

  private onError(client: MqttClient, err: Error & { code?: number | string }): void {
    if (client !== this.client) return;
    if (this.protocolVersion === 5 && typeof err.code === 'number' && unsupportedProtocol.has(err.code)) {
      this.log.info('the broker does not speak MQTT 5: using MQTT 3.1.1');
      this.protocolVersion = 4;
      this.client = undefined;
      client.end(true);
      this.start();
      return;
    }
    const message = `connection failed: ${describeConnectError(err)}`;
    // A broker that stays down would otherwise write the same line every few seconds.
    if (message !== this.lastFailure) this.log.warn(message);
    else this.log.debug(message);
    this.lastFailure = message;
  }

  private scheduleReconnect(client: MqttClient): void {
    if (this.reconnectTimer) return;
    const delay = this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, this.backoff.maxMs);
    this.log.debug(`reconnecting in ${delay} ms`);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.stopped || client !== this.client) return;
      client.reconnect();
    }, delay);
    this.reconnectTimer.unref?.();
  }

  private async resubscribe(client: MqttClient): Promise<void> {
    const filters = [...this.subscriptions.keys()];
    if (filters.length === 0) return;
    try {
      await client.subscribeAsync(filters, { qos: 1 });
    } catch (err) {
      this.log.warn(`subscribe failed: ${errorMessage(err)}`);
    }
  }

  private dispatch(topic: string, payload: Buffer, packet: IPublishPacket): void {
    this.holdWrites();
    if (this.settings.debugMqtt) this.log.info(`MQTT IN  ${topic} ${redactPayload(payload)}`);
    // Most subscriptions are exact topics: a map lookup; only wildcard filters are matched.
    const exact = this.subscriptions.get(topic);
    if (exact) this.deliver(topic, topic, exact, payload, packet);
    for (const [filter, matches] of this.wildcards) {
      const handler = this.subscriptions.get(filter);
      if (handler && matches(topic)) this.deliver(filter, topic, handler, payload, packet);
    }
  }

  /**
   * MQTT.js acknowledges a request right after this dispatch, and the answer of a quick command
   * follows a few microtasks later: each would go out in its own write(2) and TCP segment. Holding
   * the socket's writes until the event loop's next turn sends both together, one system call per
   * request instead of two; a command that waits on I/O is answered in a later turn, as before.
   */
  private holdWrites(): void {
    const stream = this.client?.stream as { cork?(): void; uncork?(): void } | undefined;
    if (this.writesHeld || typeof stream?.cork !== 'function' || typeof stream.uncork !== 'function') return;
    stream.cork();
    this.writesHeld = true;
    setImmediate(() => {
      this.writesHeld = false;
      stream.uncork?.();
    });
  }

  private deliver(filter: string, topic: string, handler: MessageHandler, payload: Buffer, packet: IPublishPacket): void {
    try {
      handler(topic, payload, packet);
    } catch (err) {
      this.log.error(`handler of ${filter} failed: ${errorMessage(err)}`);
    }
  }

  async subscribe(filter: string, handler: MessageHandler): Promise<void> {
    this.subscriptions.set(filter, handler);
    if (/[+#]/.test(filter)) this.wildcards.set(filter, topicMatcher(filter));
    if (this.client?.connected) await this.client.subscribeAsync(filter, { qos: 1 });
  }

  async unsubscribe(filter: string): Promise<void> {
    this.subscriptions.delete(filter);
    this.wildcards.delete(filter);
    if (this.client?.connected) await this.client.unsubscribeAsync(filter);
  }

  async publish(topic: string, payload: string | Buffer, options: PublishOptions = {}): Promise<void> {
    const client = this.client;
    if (!client) throw new Error('not connected');
    if (this.settings.debugMqtt) this.log.info(`MQTT OUT ${topic} ${redactPayload(payload)}`);
    const publishOptions: IClientPublishOptions = { qos: options.qos ?? 1, retain: options.retain ?? false };
    if (this.protocolVersion === 5 && (options.correlationData || options.responseTopic)) {
      publishOptions.properties = {};
      if (options.correlationData) publishOptions.properties.correlationData = options.correlationData;
      if (options.responseTopic) publishOptions.properties.responseTopic = options.responseTopic;
    }
    if (publishOptions.qos === 0 && !client.connected) return;
    await new Promise<void>((resolve, reject) => {
      const fail = (err: Error) => {
        this.inFlight.delete(fail);
        reject(err);
      };
      this.inFlight.add(fail);
      client.publish(topic, payload, publishOptions, (err) => {
        this.inFlight.delete(fail);
        if (err) reject(err);
        else resolve();
      });
    });
  }

  private failInFlight(): void {
    const waiting = [...this.inFlight];
    this.inFlight.clear();
    for (const fail of waiting) fail(new Error('the connection was lost before the broker acknowledged the message'));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.stableTimer) clearTimeout(this.stableTimer);
    this.stableTimer = undefined;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    if (!client.connected) {
      await client.endAsync(true);
      return;
    }
    // Let answers in flight reach the broker, but never wait on a broker that stopped acking.
    let timer: NodeJS.Timeout | undefined;
    const graceful = client.endAsync(false);
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), 2000)));
    if ((await Promise.race([graceful, timedOut])) === 'timeout') await client.endAsync(true);
    clearTimeout(timer);
  }
}

function describeConnectError(err: Error & { code?: number | string }): string {
  const msg = err.message || String(err);
  if (/certificate|handshake|alert|SSL|TLS/i.test(msg) || (typeof err.code === 'string' && /CERT|TLS|SSL/.test(err.code))) {
    return `TLS handshake refused (${msg}): check certificate.pem / certificate.key and the broker's CA`;
  }
  if (typeof err.code === 'number') return `broker refused the connection (code ${err.code}): ${msg}`;
  return msg;
}
