// status: the sketch table on request, and on B/status whenever a sketch changes state.

import { encodeStream, streamTopic, type AnswerOf } from '../api.js';
import { Feature, type CommandTable } from '../feature.js';
import { errorMessage } from '../log.js';
import type { SketchStatusSource } from '../sketches/status-source.js';

/** B/<command>/post → the method of StatusFeature that answers it. */
export const statusCommands = {
  status: 'status',
} as const satisfies CommandTable<'status', StatusFeature>;

export interface StatusOptions {
  /** The sketch table (the sketches feature's, which can be read even when it failed to start). */
  sketches: SketchStatusSource;
}

export class StatusFeature extends Feature<StatusOptions> {
  readonly name = 'status';
  private unlisten: (() => void) | undefined;

  async status(): Promise<AnswerOf<'status'>> {
    return { sketches: this.options.sketches.snapshot() };
  }

  override async start(): Promise<void> {
    this.unlisten = this.options.sketches.onChange(() => void this.publish());
  }

  override async stop(): Promise<void> {
    this.unlisten?.();
    this.unlisten = undefined;
  }

  /** Publishes the status stream; a broker that is away gets the next change instead. */
  private async publish(): Promise<void> {
    const { bus, base, log } = this.deps;
    try {
      await bus.publish(streamTopic(base, 'status'), encodeStream('status', await this.status()));
    } catch (err) {
      log.warn(`status not published: ${errorMessage(err)}`);
    }
  }
}
