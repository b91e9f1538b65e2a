// A feature is one capability of the agent (a command family or a stream) with its own start and
// stop; the agent wires them together and passes collaborators in, so each can be started alone.

import type { Settings } from './settings.js';
import type { Logger } from './log.js';
import type { MessageBus } from './mqtt/connection.js';
import type { CommandRouter } from './mqtt/router.js';

export interface Feature {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface AgentContext {
  settings: Settings;
  bus: MessageBus;
  router: CommandRouter;
  /** The base topic with the device id filled in. */
  base: string;
  log: Logger;
}
