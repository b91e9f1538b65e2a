// apt/repos/list, add, remove, edit: the repositories of apt's configuration folder
// (settings.apt_config_dir), edited in place with everything else in the files kept.

import type { AgentContext } from '../legacy-features.js';
import { AptSources } from '../system/apt-sources.js';
import { WritableMount } from '../system/ro-fs.js';

export interface ReposCommandsOptions {
  sources?: AptSources;
  /** The -check_ro_fs wrapper; share one with every feature that writes to the root file system. */
  writable?: WritableMount;
}

export class ReposCommands {
  readonly name = 'apt-repositories';
  readonly sources: AptSources;
  private readonly writable: WritableMount;

  constructor(private readonly context: AgentContext, options: ReposCommandsOptions = {}) {
    this.sources = options.sources ?? new AptSources(context.settings.apt_config_dir);
    this.writable = options.writable ?? new WritableMount({ enabled: context.settings.check_ro_fs });
  }

  async start(): Promise<void> {
    const { router } = this.context;
    router.register('apt/repos/list', async () => (await this.sources.list()).map((l) => l.repo));
    router.register('apt/repos/add', async (request) => {
      await this.writable.around(() => this.sources.add(request.repository));
      return 'OK';
    });
    router.register('apt/repos/remove', async (request) => {
      await this.writable.around(() => this.sources.remove(request.repository));
      return 'OK';
    });
    router.register('apt/repos/edit', async (request) => {
      await this.writable.around(() => this.sources.edit(request.old_repository, request.new_repository));
      return 'OK';
    });
  }

  async stop(): Promise<void> {}
}
