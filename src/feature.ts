// The shape every part of the agent has. A feature is built with the shared collaborators and its
// own typed options, and its constructor only wires objects together: files, processes,
// subscriptions and timers begin in start(), so any feature can be built, started and stopped
// alone. A feature that serves commands declares them, at the top of its file, in a literal
// table from command name to method, checked against the API map:
//
//   const aptCommands = { 'apt/get': 'get', ... } as const satisfies CommandTable<'apt', AptFeature>;
//
// The compiler refuses a command of the family left out, a command of another family, and a
// method that does not take that command's request and return its answer.

import type { CommandName, CommandsOf, Family } from './api.js';
import type { WritableMount } from './system/ro-fs.js';
import type { Logger } from './log.js';
import type { MessageBus } from './mqtt/message-bus.js';
import type { Handler, HandlerContext, ServedFamily } from './mqtt/router.js';

/** What every feature is given; nothing here has a hidden default. */
export interface FeatureDeps {
  bus: MessageBus;
  /** The base topic with the device id filled in. */
  base: string;
  log: Logger;
  /** The -check_ro_fs guard: one for the whole agent, so overlapping writers never remount
   * read-only under each other. */
  writable: WritableMount;
}

export abstract class Feature<Options = Record<string, never>> {
  abstract readonly name: string;

  constructor(protected readonly deps: FeatureDeps, protected readonly options: Options) {}

  /** Begins the feature's work. Throwing makes its command family unavailable (its commands answer
   * `ERROR: <family> unavailable: <reason>`); the agent tries again later. */
  async start(): Promise<void> {}

  async stop(): Promise<void> {}
}

/** The names of T's methods that can answer command K. */
type MethodFor<T, K extends CommandName> = { [M in keyof T]: T[M] extends Handler<K> ? M : never }[keyof T];

/** A family's command table: every command of the family, each to a method of the feature. */
export type CommandTable<F extends Family, T> = { readonly [K in CommandsOf<F>]: MethodFor<T, K> };

export function serveFamily<F extends Family, T extends Feature<unknown>>(family: F, feature: T, table: CommandTable<F, T>): ServedFamily {
  const methods = table as Record<string, keyof T>;
  return {
    family,
    handle(command, request, context) {
      const method = methods[command];
      if (method === undefined) throw new Error(`${command} is not a command of ${family}`);
      const handler = feature[method] as (this: T, request: unknown, context: HandlerContext) => Promise<unknown>;
      return handler.call(feature, request, context);
    },
  };
}
