// Temporary: the apt and apt-repos features in their old shape (a start() that
// registers handlers on a router), served through the new router until they are converted.

import type { CommandName, Family } from './api.js';
import { AptCommands, type AptCommandsOptions } from './commands/apt.js';
import { ReposCommands, type ReposCommandsOptions } from './commands/apt-repos.js';
import type { FeatureDeps } from './feature.js';
import type { Handler, HandlerContext, ServedFamily } from './mqtt/router.js';
import { Feature } from './feature.js';
import type { Logger } from './log.js';
import type { MessageBus } from './mqtt/message-bus.js';
import type { Settings } from './settings.js';

export interface LegacyFeatureOptions {
  apt?: AptCommandsOptions;
  repos?: ReposCommandsOptions;
}

export interface AgentContext {
  settings: Settings;
  bus: MessageBus;
  router: { register<K extends CommandName>(command: K, handler: Handler<K>): void };
  base: string;
  log: Logger;
}

interface OldFeature {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

class LegacyFeature extends Feature<{ make: (context: AgentContext) => OldFeature; settings: Settings }> {
  readonly name: string;
  readonly handlers = new Map<CommandName, Handler<CommandName>>();
  private inner: OldFeature | undefined;

  constructor(deps: FeatureDeps, options: { make: (context: AgentContext) => OldFeature; settings: Settings; name: string }) {
    super(deps, options);
    this.name = options.name;
  }

  override async start(): Promise<void> {
    const context: AgentContext = {
      settings: this.options.settings,
      bus: this.deps.bus,
      base: this.deps.base,
      log: this.deps.log,
      router: { register: (command, handler) => void this.handlers.set(command, handler as unknown as Handler<CommandName>) },
    };
    this.inner ??= this.options.make(context);
    await this.inner.start();
  }

  override async stop(): Promise<void> {
    await this.inner?.stop();
  }
}

function legacy(family: Family, feature: LegacyFeature): { feature: Feature<unknown>; served: ServedFamily } {
  return {
    feature,
    served: {
      family,
      handle: (command, request, context: HandlerContext) => {
        const handler = feature.handlers.get(command);
        if (!handler) throw new Error(`no handler for ${command}`);
        return handler(request as never, context);
      },
    },
  };
}

export function legacyFeatures(input: { settings: Settings; deps: (scope: string) => FeatureDeps; options: LegacyFeatureOptions }) {
  const { settings, deps, options } = input;
  const writable = deps('x').writable;
  return [
    legacy('apt', new LegacyFeature(deps('apt'), { settings, name: 'apt', make: (c) => new AptCommands(c, { writable, ...options.apt }) })),
    legacy('apt-repos', new LegacyFeature(deps('repos'), { settings, name: 'apt-repos', make: (c) => new ReposCommands(c, { writable, ...options.repos }) })),
  ];
}
