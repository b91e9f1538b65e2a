// apt/repos/list, add, remove, edit: the repositories of apt's configuration folder
// (apt_config_dir), edited in place with everything else in the files kept.

import type { AnswerOf, Repository, RepositoryRequest, RequestOf } from '../api.js';
import { Feature, type CommandTable } from '../feature.js';
import { AptSources, type RepositoryFields, type RepositoryInput } from '../system/apt-sources.js';

/** B/<command>/post → the method of AptReposFeature that answers it. */
export const aptRepoCommands = {
  'apt/repos/list': 'list',
  'apt/repos/add': 'add',
  'apt/repos/remove': 'remove',
  'apt/repos/edit': 'edit',
} as const satisfies CommandTable<'apt-repos', AptReposFeature>;

export interface AptReposOptions {
  /** The apt configuration folder whose sources are managed (/etc/apt on a device). */
  configDir: string;
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

export class AptReposFeature extends Feature<AptReposOptions> {
  readonly name = 'apt-repos';
  readonly sources = new AptSources(this.options.configDir);

  async list(): Promise<AnswerOf<'apt/repos/list'>> {
    return (await this.sources.list()).map((l) => toWireRepository(l.repo));
  }

  async add(request: RequestOf<'apt/repos/add'>): Promise<AnswerOf<'apt/repos/add'>> {
    await this.deps.writable.around(() => this.sources.add(fromWireRepository(request.repository)));
    return 'OK';
  }

  async remove(request: RequestOf<'apt/repos/remove'>): Promise<AnswerOf<'apt/repos/remove'>> {
    await this.deps.writable.around(() => this.sources.remove(fromWireRepository(request.repository)));
    return 'OK';
  }

  async edit(request: RequestOf<'apt/repos/edit'>): Promise<AnswerOf<'apt/repos/edit'>> {
    const { old_repository: from, new_repository: to } = request;
    await this.deps.writable.around(() => this.sources.edit(fromWireRepository(from), fromWireRepository(to)));
    return 'OK';
  }
}
