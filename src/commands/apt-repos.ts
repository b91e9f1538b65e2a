// apt/repos/list, add, remove, edit: the repositories of apt's configuration folder
// (settings.apt_config_dir), edited in place with everything else in the files kept.

import type { Repository, RepositoryRequest } from '../api.js';
import type { AgentContext } from '../legacy-features.js';
import { AptSources, type RepositoryFields, type RepositoryInput } from '../system/apt-sources.js';
import { WritableMount } from '../system/ro-fs.js';

export interface ReposCommandsOptions {
  sources?: AptSources;
  /** The -check_ro_fs wrapper; share one with every feature that writes to the root file system. */
  writable?: WritableMount;
}

/** A repository of the sources as apt/repos/list answers it: every field, in API.md's order. */
export function toWireRepository(fields: RepositoryFields): Repository {
  return {
    enabled: fields.enabled,
    sourceRepo: fields.sourceRepo,
    options: fields.options,
    uri: fields.uri,
    distribution: fields.distribution,
    components: fields.components,
    comment: fields.comment,
  };
}

/** A repository of a request, as the sources adapter takes it (absent fields filled there). */
export function fromWireRepository(request: RepositoryRequest): RepositoryInput {
  return {
    enabled: request.enabled,
    sourceRepo: request.sourceRepo,
    options: request.options,
    uri: request.uri,
    distribution: request.distribution,
    components: request.components,
    comment: request.comment,
  };
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
    router.register('apt/repos/list', async () => (await this.sources.list()).map((l) => toWireRepository(l.repo)));
    router.register('apt/repos/add', async (request) => {
      await this.writable.around(() => this.sources.add(fromWireRepository(request.repository)));
      return 'OK';
    });
    router.register('apt/repos/remove', async (request) => {
      await this.writable.around(() => this.sources.remove(fromWireRepository(request.repository)));
      return 'OK';
    });
    router.register('apt/repos/edit', async (request) => {
      const { old_repository: from, new_repository: to } = request;
      await this.writable.around(() => this.sources.edit(fromWireRepository(from), fromWireRepository(to)));
      return 'OK';
    });
  }

  async stop(): Promise<void> {}
}
