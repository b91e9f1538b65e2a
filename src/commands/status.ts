// status: the sketch table on request, and on B/status whenever a sketch changes state.

import { encodeStream, streamTopic, type AnswerOf, type UpdateOutcome } from '../api.js';
import { Feature, type CommandTable } from '../feature.js';
import { errorMessage } from '../log.js';
import type { MessageBus } from '../mqtt/message-bus.js';
import type { SketchStatusSource } from '../sketches/status-source.js';

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
}

export class StatusFeature extends Feature<StatusOptions> {
  readonly name = 'status';
  private unlisten: (() => void) | undefined;

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
    return body;
  }

  override async start(): Promise<void> {
    this.unlisten = this.options.sketches.onChange(() => void this.publish());
  }

  override async stop(): Promise<void> {
    this.unlisten?.();
    this.unlisten = undefined;
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
