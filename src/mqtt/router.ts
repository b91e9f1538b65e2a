// The one place where a message becomes a typed request: size check, JSON decoding, validation
// against the API map, the handler, and an `INFO:`/`ERROR:` answer on `B/<command>` (and on the
// MQTT 5 response topic when the request named one). A handler can never take the agent down.

import type { IPublishPacket } from 'mqtt';
import { formatError, formatInfo, requestSchemas, topics, type AnswerOf, type CommandName, type RequestOf } from '../api.js';
import { CommandError } from '../errors.js';
import { errorMessage, type Logger } from '../log.js';
import { ValidationError } from '../api/schema.js';
import type { MessageBus } from './connection.js';

export interface HandlerContext {
  command: CommandName;
  log: Logger;
}

export type Handler<K extends CommandName> = (request: RequestOf<K>, context: HandlerContext) => Promise<AnswerOf<K>>;

export interface RouterOptions {
  bus: MessageBus;
  base: string;
  log: Logger;
  /** Requests larger than this are refused unread (default 1 MiB). */
  maxPayloadBytes?: number;
}

export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

/** A topic name (not a filter): non-empty, no wildcards, no NUL, at most 65,535 bytes. */
export function isPublishableTopic(topic: string): boolean {
  return topic.length > 0 && !/[+#\u0000]/.test(topic) && Buffer.byteLength(topic) <= 65535;
}

/** Decodes and validates a request payload; throws ValidationError with a message for the sender. */
export function decodeRequest<K extends CommandName>(command: K, payload: Buffer, maxBytes = DEFAULT_MAX_PAYLOAD): RequestOf<K> {
  if (payload.length > maxBytes) {
    throw new ValidationError(`payload of ${payload.length} bytes exceeds the limit of ${maxBytes} bytes`);
  }
  const text = payload.toString('utf8').trim();
  let value: unknown = {};
  if (text !== '') {
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new ValidationError(`invalid JSON: ${errorMessage(err)}`);
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ValidationError('the request must be a JSON object');
  }
  return requestSchemas[command].parse(value, '') as RequestOf<K>;
}

export class CommandRouter {
  private readonly handlers = new Map<CommandName, Handler<CommandName>>();
  private readonly subscribed = new Set<CommandName>();
  private readonly loggers = new Map<CommandName, Logger>();
  private started = false;

  constructor(private readonly options: RouterOptions) {}

  /** Adds a command; once started, its topic is subscribed at once. */
  register<K extends CommandName>(command: K, handler: Handler<K>): void {
    if (this.handlers.has(command)) throw new Error(`command ${command} registered twice`);
    this.handlers.set(command, handler as unknown as Handler<CommandName>);
    if (this.started) void this.subscribe(command);
  }

  /** The commands that are served (and so subscribed). */
  commands(): CommandName[] {
    return [...this.handlers.keys()];
  }

  async start(): Promise<void> {
    this.started = true;
    await Promise.all(this.commands().map((c) => this.subscribe(c)));
  }

  async stop(): Promise<void> {
    this.started = false;
    const { bus, base } = this.options;
    await Promise.all([...this.subscribed].map((c) => bus.unsubscribe(topics.request(base, c)).catch(() => {})));
    this.subscribed.clear();
  }

  private async subscribe(command: CommandName): Promise<void> {
    const { bus, base } = this.options;
    this.subscribed.add(command);
    await bus.subscribe(topics.request(base, command), (_topic, payload, packet) => {
      void this.handle(command, payload, packet);
    });
  }

  private loggerOf(command: CommandName): Logger {
    let logger = this.loggers.get(command);
    if (!logger) {
      logger = this.options.log.child(command);
      this.loggers.set(command, logger);
    }
    return logger;
  }

  /** Runs one request to its answer; public so a test can drive the router without a broker. */
  async handle(command: CommandName, payload: Buffer, packet?: IPublishPacket): Promise<string> {
    const { log, maxPayloadBytes } = this.options;
    let answer: string;
    try {
      const handler = this.handlers.get(command);
      if (!handler) throw new CommandError(`unknown command ${command}`);
      const request = decodeRequest(command, payload, maxPayloadBytes);
      const body = await handler(request, { command, log: this.loggerOf(command) });
      answer = formatInfo(body);
    } catch (err) {
      if (err instanceof ValidationError || err instanceof CommandError) {
        log.info(`${command}: ${err.message}`);
      } else {
        log.error(`${command} failed unexpectedly: ${err instanceof Error && err.stack ? err.stack : errorMessage(err)}`);
      }
      answer = formatError(errorMessage(err));
    }
    await this.reply(command, answer, packet);
    return answer;
  }

  private async reply(command: CommandName, answer: string, packet: IPublishPacket | undefined): Promise<void> {
    const { bus, base, log } = this.options;
    const answerTopic = topics.answer(base, command);
    let responseTopic = packet?.properties?.responseTopic;
    // Publishing to a wildcard or empty topic makes the broker drop the agent's session, so a
    // request must not be able to name one.
    if (responseTopic !== undefined && !isPublishableTopic(responseTopic)) {
      log.info(`${command}: response topic ${JSON.stringify(responseTopic.slice(0, 200))} is not a topic one can publish to; answered on ${answerTopic} only`);
      responseTopic = undefined;
    }
    const notSent = (err: unknown) => log.warn(`answer to ${command} not sent: ${errorMessage(err)}`);
    const sent = bus.publish(answerTopic, answer).catch(notSent);
    if (!responseTopic) {
      // The common case, without Promise.all's bookkeeping: it runs for every command.
      await sent;
      return;
    }
    const correlationData = packet?.properties?.correlationData;
    await Promise.all([sent, bus.publish(responseTopic, answer, correlationData ? { correlationData } : {}).catch(notSent)]);
  }
}
