// The one place where a message becomes a typed request: size check, JSON decoding, validation
// against the API map, the family's handler, and an `INFO:`/`ERROR:` answer on `B/<command>` (and
// on the MQTT 5 response topic when the request named one). Every command of the API map is
// subscribed from the start, whether or not its family is serving: a family that is missing or
// failed answers `ERROR: <family> unavailable: <reason>`, never silence. A handler can never take
// the agent down.

import { isUtf8 } from 'node:buffer';
import { commandNames, concurrencyLimitOf, familyOf, formatError, formatInfo, MAX_REQUEST_DEPTH, payloadLimitOf, queueLimitOf, topics, validateRequest, type AnswerOf, type CommandName, type Family, type RequestOf } from '../api.js';
import { ValidationError } from '../api/schema.js';
import { BusyError, UnavailableError } from '../errors.js';
import { errorMessage, type Logger } from '../log.js';
import { escapeText } from '../text.js';
import { answerError } from './answer-error.js';
import { RequestIntake } from './intake.js';
import type { MessageBus, MessageMeta } from './message-bus.js';

export interface HandlerContext {
  command: CommandName;
  log: Logger;
}

export type Handler<K extends CommandName> = (request: RequestOf<K>, context: HandlerContext) => Promise<AnswerOf<K>>;

/** What answers the commands of one family (a feature, through its command table). */
export interface ServedFamily {
  family: Family;
  handle(command: CommandName, request: unknown, context: HandlerContext): Promise<unknown>;
}

export interface RouterOptions {
  bus: MessageBus;
  base: string;
  log: Logger;
  /** Requests larger than this are refused unread, whatever their command allows (default 1 MiB). */
  maxPayloadBytes?: number;
}

export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

/** A topic name (not a filter): non-empty, no wildcards, no NUL, at most 65,535 bytes. */
export function isPublishableTopic(topic: string): boolean {
  return topic.length > 0 && !/[+#\u0000]/.test(topic) && Buffer.byteLength(topic) <= 65535;
}

/** Decodes and validates a request payload; throws ValidationError with a message for the sender. */
export function decodeRequest<K extends CommandName>(command: K, payload: Buffer, maxBytes = DEFAULT_MAX_PAYLOAD): RequestOf<K> {
  const limit = Math.min(maxBytes, payloadLimitOf(command));
  if (payload.length > limit) {
    throw new ValidationError(`payload of ${payload.length} bytes exceeds the limit of ${limit} bytes`);
  }
  // Before the parser: a payload nested thousands deep costs it, and every later walk, dearly.
  if (nestingDepth(payload, MAX_REQUEST_DEPTH) > MAX_REQUEST_DEPTH) {
    throw new ValidationError(`the request is nested deeper than ${MAX_REQUEST_DEPTH} levels`);
  }
  if (!isUtf8(payload)) {
    throw new ValidationError(`the payload is not UTF-8 text (${firstInvalidByte(payload)})`);
  }
  const text = payload.toString('utf8').trim();
  let value: unknown = {};
  if (text !== '') {
    try {
      value = JSON.parse(text);
    } catch (err) {
      // V8 quotes the payload in some messages ("Unexpected token 'x', "{...}" is not valid
      // JSON"): it is the sender's text and may hold a password, so that part is left out.
      const reason = errorMessage(err).replace(/, (?:\.\.\.)?".*is not valid JSON$/s, ' (not valid JSON)');
      throw new ValidationError(`invalid JSON: ${escapeText(reason, 300)}`);
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ValidationError('the request must be a JSON object');
  }
  return validateRequest(command, value);
}

type FamilyState = { serving: ServedFamily } | { unavailable: string };

/** A request as it came off the socket. */
interface Arrived {
  command: CommandName;
  payload: Buffer;
  meta: MessageMeta | undefined;
}

/** How deep objects and arrays nest in a JSON text, counted outside strings; stops counting past
 * `stopAfter`. One pass over the bytes. */
export function nestingDepth(payload: Buffer, stopAfter: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < payload.length; i++) {
    const byte = payload[i]!;
    if (inString) {
      if (byte === 0x5c) i++; // backslash: the next byte is escaped
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) {
      inString = true;
    } else if (byte === 0x7b || byte === 0x5b) {
      if (++depth > deepest && (deepest = depth) > stopAfter) return deepest;
    } else if (byte === 0x7d || byte === 0x5d) {
      depth--;
    }
  }
  return deepest;
}

/** Where a payload stops being UTF-8, for the sender (one pass: payloads may be 1 MiB). */
function firstInvalidByte(payload: Buffer): string {
  let i = 0;
  while (i < payload.length) {
    const lead = payload[i]!;
    if (lead < 0x80) {
      i++;
      continue;
    }
    const length = lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0;
    // The second byte's range also excludes overlong forms, surrogates and code points past U+10FFFF.
    const low = lead === 0xe0 ? 0xa0 : lead === 0xf0 ? 0x90 : 0x80;
    const high = lead === 0xed ? 0x9f : lead === 0xf4 ? 0x8f : 0xbf;
    let ok = length > 0;
    for (let k = 1; ok && k < length; k++) {
      const next = payload[i + k];
      ok = next !== undefined && next >= (k === 1 ? low : 0x80) && next <= (k === 1 ? high : 0xbf);
    }
    if (!ok) return `byte 0x${lead.toString(16).padStart(2, '0')} at offset ${i}`;
    i += length;
  }
  return 'no invalid byte found';
}

export class CommandRouter {
  private readonly families = new Map<Family, FamilyState>();
  private readonly loggers = new Map<CommandName, Logger>();
  /** Requests of each family being handled now. */
  private readonly inProgress = new Map<Family, number>();
  private subscribed = false;
  private readonly intake = new RequestIntake<Arrived, Family>({
    start: ({ command, payload, meta }) => void this.handle(command, payload, meta),
    refuse: ({ command, meta }, family, waiting) => {
      this.loggerOf(command).debug(`${command}: busy, ${waiting} ${family} requests waiting`);
      void this.reply(command, formatError(`busy, retry: ${waiting} ${family} requests are waiting`), meta);
    },
    familyOf: ({ command }) => familyOf(command),
    queueLimitOf,
  });

  constructor(private readonly options: RouterOptions) {}

  /** The family's commands are answered by `served` from now on. */
  serve(served: ServedFamily): void {
    this.families.set(served.family, { serving: served });
  }

  /** The family's commands answer `ERROR: <family> unavailable: <reason>` until it is served. */
  unavailable(family: Family, reason: string): void {
    this.families.set(family, { unavailable: reason });
  }

  /** The families that answer their commands now. */
  serving(): Family[] {
    return [...this.families].filter(([, state]) => 'serving' in state).map(([family]) => family);
  }

  /** Subscribes every command of the API map. */
  async start(): Promise<void> {
    this.subscribed = true;
    const { bus, base } = this.options;
    await Promise.all(
      commandNames.map((command) =>
        bus.subscribe(topics.request(base, command), (_topic, payload, meta) => {
          // An oversized payload is refused at once rather than held while it waits.
          this.intake.offer({ command, payload, meta }, payload.length > payloadLimitOf(command));
        }),
      ),
    );
  }

  async stop(): Promise<void> {
    if (!this.subscribed) return;
    this.subscribed = false;
    const { bus, base } = this.options;
    await Promise.all(commandNames.map((c) => bus.unsubscribe(topics.request(base, c)).catch(() => {})));
  }

  private loggerOf(command: CommandName): Logger {
    let logger = this.loggers.get(command);
    if (!logger) {
      logger = this.options.log.child(command);
      this.loggers.set(command, logger);
    }
    return logger;
  }

  /** Runs one request to its answer and publishes it; returns the answer's text. */
  async handle(command: CommandName, payload: Buffer, meta?: MessageMeta): Promise<string> {
    const { log, maxPayloadBytes } = this.options;
    const family = familyOf(command);
    let answer: string;
    try {
      const request = decodeRequest(command, payload, maxPayloadBytes);
      const state = this.families.get(family) ?? { unavailable: 'not started' };
      if ('unavailable' in state) throw new UnavailableError(state.unavailable);
      const running = this.inProgress.get(family) ?? 0;
      if (running >= concurrencyLimitOf(family)) throw new BusyError(`busy, retry: ${running} ${family} requests are in progress`);
      this.inProgress.set(family, running + 1);
      try {
        const body = await state.serving.handle(command, request, { command, log: this.loggerOf(command) });
        answer = formatInfo(body);
      } finally {
        this.inProgress.set(family, (this.inProgress.get(family) ?? 1) - 1);
      }
    } catch (err) {
      const answered = answerError(family, err);
      if (answered.level === 'error') log.error(`${command} failed unexpectedly: ${answered.detail ?? answered.message}`);
      // A log line stays short: the answer carries the whole message (apt's 2 KiB of output).
      else log[answered.level](`${command}: ${escapeText(answered.message, 2048)}`);
      answer = formatError(answered.message);
    }
    await this.reply(command, answer, meta);
    return answer;
  }

  private async reply(command: CommandName, answer: string, meta: MessageMeta | undefined): Promise<void> {
    const { bus, base, log } = this.options;
    const answerTopic = topics.answer(base, command);
    let responseTopic = meta?.properties?.responseTopic;
    // Publishing to a wildcard or empty topic makes the broker drop the agent's session, so a
    // request must not be able to name one.
    if (responseTopic !== undefined && !isPublishableTopic(responseTopic)) {
      log.info(`${command}: response topic ${JSON.stringify(responseTopic.slice(0, 200))} is not a topic one can publish to; answered on ${answerTopic} only`);
      responseTopic = undefined;
    }
    const notSent = (err: unknown) => log.warn(`answer to ${command} not sent: ${errorMessage(err)}`);
    // The answer travels as its request did: a QoS 0 request (mosquitto_pub's default, a flood)
    // is answered at QoS 0, which spares the broker an acknowledgement per answer and keeps the
    // agent's queue at the broker short; QoS 1 and 2 requests are answered at QoS 1.
    const qos = meta?.qos === 0 ? 0 : 1;
    const sent = bus.publish(answerTopic, answer, { qos }).catch(notSent);
    if (!responseTopic) {
      // The common case, without Promise.all's bookkeeping: it runs for every command.
      await sent;
      return;
    }
    const correlationData = meta?.properties?.correlationData;
    await Promise.all([sent, bus.publish(responseTopic, answer, correlationData ? { qos, correlationData } : { qos }).catch(notSent)]);
  }
}
