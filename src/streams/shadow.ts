// The local bus: a nats-server on 127.0.0.1 that sketches publish on, and every message on
// `$arduino.cloud.<name>` forwarded to B/shadow/update (src/api/shadow.ts says how it is written).
//
// Only one token after the prefix is subscribed (`$arduino.cloud.*`), as the Go agent did and the
// contract names it: `<name>` is one key of the shadow's reported state, and `a.b` has no meaning
// there. The daily message budget of the contract applies here, and only here (ShadowForwarder).
// Messages go to an injected sink (default: the broker session), so a queue that keeps them while
// the broker is unreachable can be put in between.

import type { Msg, NatsConnection } from '@nats-io/transport-node';
import { topics } from '../api/topics.js';
import { encodeShadowUpdate, shadowSubjectPrefix, shadowSubjects } from '../api/shadow.js';
import { Feature } from '../feature.js';
import { errorMessage } from '../log.js';
import type { MessageBus } from '../mqtt/message-bus.js';
import { MessageRateLimiter, systemClock, type RateLimitOptions } from '../sketches/rate-limit.js';
import { NatsServer, type NatsServerState } from '../system/nats-server.js';
import { escapeText } from '../text.js';
import { ShadowForwarder, type ForwarderCounts } from './shadow-forwarder.js';

export interface ShadowOptions {
  /** The bus's port on 127.0.0.1; 0 turns the bus off. */
  port: number;
  /** The nats-server program; empty: found on PATH, else Debian's /usr/sbin/nats-server. */
  serverPath: string;
  /** Where B/shadow/update messages go (default: the broker session). */
  sink?: Pick<MessageBus, 'publish'>;
  /** The contract's budget by default; tests shorten it. */
  rateLimit?: RateLimitOptions;
  /** Messages that may wait for the rate limit (default 1,000); beyond, the oldest is dropped. */
  queueLimit?: number;
  /** The largest B/shadow/update message (default 128 KiB, what AWS IoT Core accepts); the bus
   * itself refuses a message 4 KiB shorter (its max_payload), leaving room for the name and the
   * wrapper. */
  maxMessageBytes?: number;
  /** The server's restart back-off (default 1 s, doubling to 60 s). */
  restartDelayMs?: number;
  maxRestartDelayMs?: number;
  /** util-linux's setpriv (default /usr/bin/setpriv); empty: run the server without it. */
  setprivPath?: string;
  /** How long start() waits for the server before the sketches start anyway (default 5 s). */
  readyTimeoutMs?: number;
}

/** How the bus stands, for `status`: `off` (nats_port=0) or the server's state. */
export type BusState = 'off' | NatsServerState;

const defaultMaxMessageBytes = 128 * 1024;
const wrapperRoom = 4096;
const firstConnectDelayMs = 1000;

export class ShadowFeature extends Feature<ShadowOptions> {
  readonly name = 'shadow';
  private server: NatsServer | undefined;
  private forwarder: ShadowForwarder | undefined;
  private client: NatsConnection | undefined;
  private connecting: Promise<void> | undefined;
  private stopped = false;
  private tooLarge = 0;
  private saidConnectFailed = false;
  private connectDelayMs = firstConnectDelayMs;
  private retryTimer: NodeJS.Timeout | undefined;

  /** Whether the bus is there and how it stands (for `status`'s list of optional parts). */
  present(): BusState {
    if (this.options.port <= 0) return 'off';
    return this.server?.state ?? 'stopped';
  }

  /** What was forwarded, dropped and refused so far. */
  counters(): ForwarderCounts & { tooLarge: number } {
    return { ...(this.forwarder?.counters ?? { forwarded: 0, dropped: 0, failed: 0 }), tooLarge: this.tooLarge };
  }

  /** The running nats-server's pid (tests kill it). */
  serverPid(): number | undefined {
    return this.server?.pid;
  }

  override async start(): Promise<void> {
    const { port } = this.options;
    const { log, base } = this.deps;
    this.stopped = false;
    if (port <= 0) {
      log.info('local bus off (nats_port=0)');
      return;
    }
    const clock = this.options.rateLimit?.clock ?? systemClock;
    this.forwarder = new ShadowForwarder({
      sink: this.options.sink ?? this.deps.bus,
      topic: topics.shadowUpdate(base),
      limiter: new MessageRateLimiter(this.options.rateLimit),
      clock,
      queueLimit: this.options.queueLimit ?? 1000,
      log,
    });
    this.server = new NatsServer(
      {
        path: this.options.serverPath,
        port,
        maxPayload: this.maxMessageBytes() - wrapperRoom,
        restartDelayMs: this.options.restartDelayMs,
        maxRestartDelayMs: this.options.maxRestartDelayMs,
        setprivPath: this.options.setprivPath,
      },
      log.child('nats-server'),
    );
    // The client connects once a server answers on the port: the agent's own, or another
    // program's that holds it (the same trust: any local client could publish there).
    this.server.on('ready', this.onServer);
    this.server.on('port in use', this.onServer);
    this.server.start();
    // Sketches started next (at boot, those last running) find the bus up and subscribed; a server
    // slower than this comes up later all the same.
    await this.server.settled(this.options.readyTimeoutMs ?? 5000);
    await this.connecting;
  }

  override async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.forwarder?.stop();
    await this.connecting;
    await this.client?.close().catch(() => {});
    this.client = undefined;
    this.connecting = undefined;
    this.server?.off('ready', this.onServer).off('port in use', this.onServer);
    await this.server?.stop();
  }

  private maxMessageBytes(): number {
    return this.options.maxMessageBytes ?? defaultMaxMessageBytes;
  }

  private readonly onServer = () => {
    clearTimeout(this.retryTimer);
    if (this.client || this.connecting || this.stopped) return;
    this.connecting = this.connectClient()
      .then(() => {
        this.saidConnectFailed = false;
        this.connectDelayMs = firstConnectDelayMs;
      })
      .catch((err) => {
        // A program that is not a NATS server may hold the port for long: said once.
        const level = this.saidConnectFailed ? 'debug' : 'warn';
        this.saidConnectFailed = true;
        this.deps.log[level](`local bus: the client could not connect (${errorMessage(err)}); trying again in ${this.connectDelayMs / 1000} s`);
        // Tried again by itself too, for a server that stays up and so is never 'ready' again.
        this.retryTimer = setTimeout(this.onServer, this.connectDelayMs);
        this.retryTimer.unref();
        this.connectDelayMs = Math.min(this.connectDelayMs * 2, 60_000);
      })
      .finally(() => (this.connecting = undefined));
  };

  private async connectClient(): Promise<void> {
    const { port } = this.options;
    const { log } = this.deps;
    // Reconnects forever once connected (the supervisor brings the server back); a failed first
    // connection is tried again on the server's next 'ready', or after a back-off.
    // Loaded on first use: the client is a fifth of the bundle, and an agent without a bus (nats_port=0,
    // no nats-server) never needs it.
    const nats = await import('@nats-io/transport-node');
    // A CommonJS package: node's loader names its exports, the bundle's chunk has them on `default`.
    const { connect } = typeof nats.connect === 'function' ? nats : nats.default;
    const client = await connect({
      servers: `127.0.0.1:${port}`,
      name: 'arduino-connector',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      // A program on the port that accepts but never speaks NATS is given up on soon.
      timeout: 5000,
      ignoreClusterUpdates: true,
    });
    if (this.stopped) {
      await client.close();
      return;
    }
    this.client = client;
    client.subscribe(shadowSubjects, { callback: (err, msg) => (err ? log.warn(`local bus: ${errorMessage(err)}`) : this.onMessage(msg)) });
    log.info(`forwarding ${shadowSubjects} on 127.0.0.1:${port} to B/shadow/update`);
    void this.watch(client);
  }

  private async watch(client: NatsConnection): Promise<void> {
    const { log } = this.deps;
    for await (const status of client.status()) {
      if (status.type === 'disconnect') log.info('local bus: the client lost the server; reconnecting');
      else if (status.type === 'reconnect') log.info('local bus: the client is connected again');
    }
  }

  private onMessage(msg: Msg): void {
    const name = msg.subject.slice(shadowSubjectPrefix.length);
    const payload = encodeShadowUpdate(name, msg.data);
    if (Buffer.byteLength(payload) > this.maxMessageBytes()) {
      if (this.tooLarge++ === 0 || this.tooLarge % 1000 === 0) {
        this.deps.log.warn(`local bus: a message on ${escapeText(msg.subject, 200)} is over ${this.maxMessageBytes()} bytes once written for the shadow; dropped (${this.tooLarge} so far)`);
      }
      return;
    }
    this.forwarder?.push(payload);
  }
}
