// status: the sketch table (with the agent's version, its last update and the optional parts
// present) on request, and on B/status whenever a sketch changes state or a part appears or goes.

import { encodeStream, streamTopic, type AnswerOf, type UpdateOutcome } from '../api.js';
import { Feature, type CommandTable } from '../feature.js';
import { errorMessage } from '../log.js';
import type { MessageBus } from '../mqtt/message-bus.js';
import type { SketchStatusSource } from '../sketches/status-source.js';
import type { OptionalParts } from './optional-parts.js';

/** B/<command>/post → the method of StatusFeature that answers it. */
export const statusCommands = {
  status: 'status',
} as const satisfies CommandTable<'status', StatusFeature>;

export interface StatusOptions {
  /** The sketch table (the sketches feature's, which can be read even when it failed to start). */
  sketches: SketchStatusSource;
  /** The running agent's version. */
  version?: string;
  /** The last self-update's outcome, and who is told that a status request was answered (an
   * update on probation commits then). */
  update?: { outcome(): UpdateOutcome | undefined; statusAnswered(): void };
  /** Where B/status goes: the agent's outbox, which keeps changes made offline, in order (default: the bus). */
  stream?: Pick<MessageBus, 'publish'>;
  /** The optional parts of the device; started and stopped with this feature. */
  parts?: OptionalParts;
}

export class StatusFeature extends Feature<StatusOptions> {
  readonly name = 'status';
  private readonly unlisten: (() => void)[] = [];

  async status(): Promise<AnswerOf<'status'>> {
    const body = this.snapshot();
    // After the answer is returned: the router publishes it once this method returns.
    queueMicrotask(() => this.options.update?.statusAnswered());
    return body;
  }

  private snapshot(): AnswerOf<'status'> {
    const body: AnswerOf<'status'> = { sketches: this.options.sketches.snapshot() };
    if (this.options.version !== undefined) body.version = this.options.version;
    const update = this.options.update?.outcome();
    if (update) body.update = update;
    if (this.options.parts) body.parts = this.options.parts.snapshot();
    return body;
  }

  override async start(): Promise<void> {
    const { parts, sketches } = this.options;
    // Before the first answer: it lists the parts as found, not as not yet checked.
    await parts?.start();
    if (parts) this.unlisten.push(parts.onChange(() => void this.publish()));
    this.unlisten.push(sketches.onChange(() => void this.publish()));
  }

  override async stop(): Promise<void> {
    for (const unlisten of this.unlisten.splice(0)) unlisten();
    this.options.parts?.stop();
  }

  /** Publishes the status stream (through the outbox: kept while the broker is away). */
  private async publish(): Promise<void> {
    const { bus, base, log } = this.deps;
    try {
      await (this.options.stream ?? bus).publish(streamTopic(base, 'status'), encodeStream('status', this.snapshot()));
    } catch (err) {
      log.warn(`status not published: ${errorMessage(err)}`);
    }
  }
}
