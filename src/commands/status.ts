// `status`: the sketch table on request, and on B/status whenever a sketch changes state.

import { formatInfo, topics, type StatusBody } from '../api.js';
import type { AgentContext, Feature } from '../feature.js';
import { errorMessage } from '../log.js';
import type { SketchStatusSource } from '../sketches/status-source.js';

export class StatusCommands implements Feature {
  readonly name = 'status';
  private unlisten: (() => void) | undefined;

  constructor(private readonly context: Pick<AgentContext, 'router' | 'bus' | 'base' | 'log'>, private readonly sketches: SketchStatusSource) {}

  body(): StatusBody {
    return { sketches: this.sketches.snapshot() };
  }

  async start(): Promise<void> {
    this.context.router.register('status', async () => this.body());
    this.unlisten = this.sketches.onChange(() => void this.publish());
  }

  async stop(): Promise<void> {
    this.unlisten?.();
    this.unlisten = undefined;
  }

  /** Publishes the status stream; a broker that is away gets the next change instead. */
  async publish(): Promise<void> {
    const { bus, base, log } = this.context;
    try {
      await bus.publish(topics.status(base), formatInfo(this.body()));
    } catch (err) {
      log.warn(`status not published: ${errorMessage(err)}`);
    }
  }
}
