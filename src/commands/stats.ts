import type { AgentContext, Feature } from '../feature.js';
export class StatsCommands implements Feature {
  readonly name = 'stats';
  constructor(private readonly context: AgentContext) {}
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
}
