// The one MQTT session of the device: connects (plain, TLS or mutual TLS) with MQTT 5 or 3.1.1,
// reconnects forever with capped exponential back-off, logs why attempts fail (rate-limited),
// re-subscribes after every (re)connection, and dispatches incoming messages to the handler of the
// subscription they match. It carries its owner's last will (ConnectionSettings.will) on every
// CONNECT and says when each session began (sessionStart, then 'connect').

import { EventEmitter } from 'node:events';
import mqtt, { type IClientPublishOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import { errorMessage, type Logger } from '../log.js';
import type { MqttVersion } from '../settings.js';
import { resolveBroker, type ConnectionSettings, type ResolvedBroker } from './broker-options.js';
import { describeFailure, FailureLog, type ConnectError } from './connect-failures.js';
import type { MessageBus, MessageHandler, PublishOptions } from './message-bus.js';
import { redactPayload } from './redact.js';
import { WriteGate, type GatedStream } from './write-gate.js';
import { topicMatcher } from './topic-match.js';
import { urlOptions } from './url-options.js';

/** CONNACK codes of a broker that does not take the protocol version asked for (3.1.1 and 5). */
const unsupportedProtocol = new Set([1, 132]);
/** Errors of a connection the broker accepted and dropped: it hung up before any CONNACK. */
const hungUpCodes = new Set(['ECONNRESET', 'EPIPE']);
const stableSessionMs = 10_000;

const versionName = (version: 4 | 5) => (version === 5 ? '5' : '3.1.1');

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

/**
 * Events beyond MessageBus's 'connect' and 'offline': 'status' (text) says in one line how the
 * session stands, after each (re)connection, loss and failed attempt, for the service manager.
 */
export class MqttConnection extends EventEmitter implements MessageBus {
  private client: MqttClient | undefined;
  private broker: ResolvedBroker | undefined;
  private readonly subscriptions = new Map<string, MessageHandler>();
  private readonly wildcards = new Map<string, (topic: string) => boolean>();
  /** Publishes waiting for the broker's acknowledgement, failed when the connection drops (MQTT.js
   * would otherwise leave them pending for good, and whoever awaits them stuck). */
  private readonly inFlight = new Set<(err: Error) => void>();
  private readonly writes = new WriteGate();
  private stableTimer: NodeJS.Timeout | undefined;
  private readonly mode: MqttVersion;
  private protocolVersion: 4 | 5;
  /** The broker answered MQTT 5 with "unsupported protocol version": 3.1.1 for good. */
  private refused5 = false;
  /** Why the last MQTT 5 attempt gave way to 3.1.1; told once a 3.1.1 session proves it right. */
  private fallbackReason: string | undefined;
  private fallbackTold = false;
  /** How the current attempt is going: a session yet, and the last error MQTT.js reported. */
  private attempt: { session: boolean; error?: ConnectError } = { session: false };
  private readonly failures: FailureLog;
  private delayMs: number;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private writesHeld = false;
  private started: Date | undefined;

  constructor(private readonly settings: ConnectionSettings, private readonly log: Logger) {
    super();
    this.mode = settings.mqttVersion ?? 'auto';
    this.protocolVersion = this.mode === '3.1.1' ? 4 : 5;
    this.delayMs = this.backoff.initialMs;
    this.failures = new FailureLog(log, settings.failureLogIntervalMs ?? 60_000);
  }

  private get backoff() {
    return this.settings.backoff ?? { initialMs: 250, maxMs: 5000 };
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  get sessionStart(): Date | undefined {
    return this.started;
  }

  /** The MQTT version of the session (4 is 3.1.1), or of the next attempt while there is none. */
  get version(): 4 | 5 {
    return this.protocolVersion;
  }

  /** Starts connecting; returns once options are valid (the broker may still be down). */
  start(): void {
    const broker = resolveBroker(this.settings);
    this.broker = broker;
    this.stopped = false;
    const versions = this.mode === 'auto' ? '5, else 3.1.1' : this.mode;
    this.log.info(`connecting to ${withoutCredentials(broker.url)} as ${this.settings.clientId} (MQTT ${versions})`);
    this.connect(broker);
  }

  private connect({ url, options }: ResolvedBroker): void {
    const shownUrl = withoutCredentials(url);
    const fromUrl = urlOptions(url);
    const client = mqtt.connect({ ...options, ...fromUrl, protocolVersion: this.protocolVersion });
    this.client = client;
    this.attempt = { session: false };
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
      this.attempt.session = true;
      this.started = new Date();
      const failed = this.failures.recovered();
      this.log.info(`connected to ${shownUrl} (MQTT ${versionName(this.protocolVersion)})${failed ? ` after ${failed} failed attempts` : ''}`);
      this.emit('status', `connected to ${shownUrl} (MQTT ${versionName(this.protocolVersion)})`);
      if (this.protocolVersion === 4 && this.fallbackReason && !this.fallbackTold) {
        this.fallbackTold = true;
        this.log.info(`the broker does not speak MQTT 5 (${this.fallbackReason}): using MQTT 3.1.1`);
      }
      void this.resubscribe(client).then(() => this.emit('connect'));
    });
    client.on('message', (topic, payload, packet) => this.dispatch(topic, payload, packet));
    client.on('error', (err: ConnectError) => {
      if (client !== this.client) return;
      this.attempt.error = err;
      this.log.debug(`connection error: ${errorMessage(err)}`);
    });
    client.on('close', () => {
      if (client === this.client) this.started = undefined;
      if (this.stableTimer) clearTimeout(this.stableTimer);
      this.stableTimer = undefined;
      this.writes.flush();
      this.failInFlight();
      if (client !== this.client || this.stopped) return;
      this.emit('offline');
      this.afterAttempt(client);
    });
  }

  /** Chooses the version and the moment of the next attempt from how this one ended. */
  private afterAttempt(client: MqttClient): void {
    const { session, error } = this.attempt;
    const auto = this.mode === 'auto';
    const tried = this.protocolVersion;
    if (session) {
      this.log.info(`connection lost${error ? `: ${errorMessage(error)}` : ''}`);
      this.emit('status', `connection lost${error ? `: ${errorMessage(error)}` : ''}; reconnecting`);
      // 3.1.1 may have been chosen while the broker, or a proxy in front of it, was hanging up on
      // everything (restarting, say); over 3.1.1 MQTT 5 callers never get their answers. So each
      // new session tries 5 first again, which costs a broker without it one quick refusal.
      if (auto && !this.refused5) this.protocolVersion = 5;
      this.scheduleReconnect(client);
      return;
    }
    const code = typeof error?.code === 'number' ? error.code : undefined;
    const hungUp = error === undefined || hungUpCodes.has(String(error.code));
    if (auto && tried === 5 && (hungUp || (code !== undefined && unsupportedProtocol.has(code)))) {
      this.refused5 = code !== undefined;
      this.fallbackReason = code !== undefined ? `it refused MQTT 5 with code ${code}` : 'it hung up on an MQTT 5 CONNECT';
      this.protocolVersion = 4;
      // Version negotiation rather than a failure: retried at once and not counted.
      this.log.debug(`${this.fallbackReason}: trying MQTT 3.1.1`);
      this.scheduleReconnect(client, true);
      return;
    }
    if (auto && tried === 4 && !this.refused5 && (hungUp || code === 1)) {
      // Hung up on with 3.1.1 as well: the broker is down behind a proxy, restarting, or refusing
      // this client, which says nothing about the version. Staying on 3.1.1 could leave a broker
      // that speaks 5 on 3.1.1 once it is back; alternating costs at most one attempt either way.
      this.protocolVersion = 5;
    }
    const reason = describeFailure(error, hungUp, tried, this.mode === '5');
    this.failures.failed(reason);
    this.emit('status', `broker unreachable: ${reason}`);
    this.scheduleReconnect(client);
  }

  private scheduleReconnect(client: MqttClient, immediate = false): void {
    if (this.reconnectTimer) return;
    const delay = immediate ? 0 : this.delayMs;
    if (!immediate) this.delayMs = Math.min(this.delayMs * 2, this.backoff.maxMs);
    this.log.debug(`reconnecting in ${delay} ms (MQTT ${versionName(this.protocolVersion)})`);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      const broker = this.broker;
      if (this.stopped || client !== this.client || !broker) return;
      if (client.options.protocolVersion === this.protocolVersion) {
        this.attempt = { session: false };
        client.reconnect();
        return;
      }
      // An MQTT.js client keeps its protocol version: another version is another client.
      this.client = undefined;
      client.end(true);
      this.failInFlight();
      this.connect(broker);
    }, delay);
    // Not unref'd: while the broker is away this timer is what keeps an agent with nothing else
    // to wait on (heartbeat_interval=0) alive; without it the process ended with code 0, which a
    // service manager's Restart=on-failure does not restart.
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
    // The filter's messages stop here at once; the broker's UNSUBACK is not waited for, so that a
    // broker that stopped answering cannot hold up a stop (until the keep-alive gave up, 45 s).
    if (this.client?.connected) this.client.unsubscribeAsync(filter).catch((err: unknown) => this.log.debug(`unsubscribe ${filter}: ${errorMessage(err)}`));
  }

  async publish(topic: string, payload: string | Buffer, options: PublishOptions = {}): Promise<void> {
    const client = this.client;
    if (!client) throw new Error('not connected');
    if (this.settings.debugMqtt) this.log.info(`MQTT OUT ${topic} ${redactPayload(payload)}`);
    const publishOptions: IClientPublishOptions = { qos: options.qos ?? 1, retain: options.retain ?? false };
    if (client.options.protocolVersion === 5 && (options.correlationData || options.responseTopic)) {
      publishOptions.properties = {};
      if (options.correlationData) publishOptions.properties.correlationData = options.correlationData;
      if (options.responseTopic) publishOptions.properties.responseTopic = options.responseTopic;
    }
    if (client.options.protocolVersion === 5 && options.userProperties) {
      publishOptions.properties = { ...publishOptions.properties, userProperties: options.userProperties };
    }
    if (publishOptions.qos === 0 && !client.connected) return;
    await new Promise<void>((resolve, reject) => {
      const fail = (err: Error) => {
        this.inFlight.delete(fail);
        reject(err);
      };
      this.inFlight.add(fail);
      this.writes.pass(client.stream as GatedStream | undefined, () => {
        // Held while the socket was full, and the connection was lost meanwhile.
        if (publishOptions.qos === 0 && !client.connected) {
          this.inFlight.delete(fail);
          resolve();
          return;
        }
        client.publish(topic, payload, publishOptions, (err) => {
          this.inFlight.delete(fail);
          if (err) reject(err);
          else resolve();
        });
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
    this.started = undefined;
    if (!client) return;
    if (!client.connected) {
      await client.endAsync(true);
      return;
    }
    // Let answers in flight reach the broker, but never wait on a broker that stopped acking.
    let timer: NodeJS.Timeout | undefined;
    const graceful = client.endAsync(false);
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), 2000)));
    if ((await Promise.race([graceful, timedOut])) === 'timeout') {
      // MQTT.js ignores a second end() once one is under way: the socket is closed here, without
      // a DISCONNECT, so the broker also publishes the will (what was not acknowledged may not
      // have reached anyone).
      const stream = client.stream;
      if (stream && !stream.destroyed) await new Promise((resolve) => stream.once('close', resolve).destroy());
    }
    clearTimeout(timer);
  }
}
