// apt/get, apt/list (queries, answered from the cached package index) and apt/update, install,
// upgrade, remove (changes, run one at a time by apt-get; their output lines are also published
// on B/apt/progress as they come).

import { encodeStream, streamTopic, type AnswerOf, type AptListBody, type AptPackage, type CommandOutputBody, type RequestOf } from '../api.js';
import { FailedError, TimedOutError } from '../errors.js';
import { Feature, type CommandTable } from '../feature.js';
import { errorMessage } from '../log.js';
import { PackageIndex, type PackageRecord } from '../system/apt-cache.js';
import { AptGet, type AptAction } from '../system/apt-get.js';
import { findExecutable } from '../system/executables.js';

/** B/<command>/post → the method of AptFeature that answers it. */
export const aptCommands = {
  'apt/get': 'get',
  'apt/list': 'list',
  'apt/update': 'update',
  'apt/install': 'install',
  'apt/upgrade': 'upgrade',
  'apt/remove': 'remove',
} as const satisfies CommandTable<'apt', AptFeature>;

export const APT_PAGE_SIZE = 30;

export interface AptOptions {
  /** Environment of apt and dpkg (default: the agent's; APT_CONFIG selects another configuration). */
  env?: NodeJS.ProcessEnv;
  /** A package index that outlives the feature (the apt bench keeps one across agents); default:
   * the feature's own. */
  index?: PackageIndex;
  /** apt-get runs still going after this long are stopped (default 30 minutes). */
  changeTimeoutMs?: number;
  /** apt and dpkg queries still going after this long are stopped (default 2 minutes). */
  queryTimeoutMs?: number;
}

/** A package of the index as apt/get and apt/list answer it (the Go agent's field names). */
export function toWirePackage(record: PackageRecord): AptPackage {
  return {
    Name: record.name,
    Status: record.status,
    Architecture: record.architecture,
    Version: record.version,
    ShortDescription: record.summary,
    InstalledSizeKB: record.installedSizeKiB,
  };
}

export function pageOf(rows: PackageRecord[], page: number): AptListBody {
  // No match is still one (empty) page, as the Go agent answered.
  const pages = Math.max(1, Math.ceil(rows.length / APT_PAGE_SIZE));
  return { packages: rows.slice(page * APT_PAGE_SIZE, (page + 1) * APT_PAGE_SIZE).map(toWirePackage), page, pages, total_items: rows.length };
}

export class AptFeature extends Feature<AptOptions> {
  readonly name = 'apt';
  readonly index = this.options.index ?? new PackageIndex({ env: this.options.env ?? process.env, queryTimeoutMs: this.options.queryTimeoutMs });
  private readonly aptGet = new AptGet({
    env: this.options.env ?? process.env,
    around: (work) => this.deps.writable.around(work),
    timeoutMs: this.options.changeTimeoutMs,
  });
  private runs = 0;

  /** Whether dpkg and apt-get are installed (for status's optional parts). */
  async aptPresent(): Promise<boolean> {
    const env = this.options.env ?? process.env;
    const [dpkg, aptGet] = await Promise.all([findExecutable('dpkg', [], env), findExecutable('apt-get', [], env)]);
    return dpkg !== undefined && aptGet !== undefined;
  }

  async get(request: RequestOf<'apt/get'>): Promise<AnswerOf<'apt/get'>> {
    return { packages: (await this.query(() => this.index.get(request.package))).map(toWirePackage) };
  }

  async list(request: RequestOf<'apt/list'>): Promise<AnswerOf<'apt/list'>> {
    const search = request.search ?? '';
    const rows = await this.query(() => (search === '' ? this.index.upgradable() : this.index.search(search)));
    return pageOf(rows, request.page ?? 0);
  }

  update(): Promise<AnswerOf<'apt/update'>> {
    return this.change('update', []);
  }

  install(request: RequestOf<'apt/install'>): Promise<AnswerOf<'apt/install'>> {
    return this.change('install', request.packages);
  }

  upgrade(request: RequestOf<'apt/upgrade'>): Promise<AnswerOf<'apt/upgrade'>> {
    return this.change('upgrade', request.packages);
  }

  remove(request: RequestOf<'apt/remove'>): Promise<AnswerOf<'apt/remove'>> {
    return this.change('remove', request.packages);
  }

  override async stop(): Promise<void> {
    if (!this.options.index) this.index.close();
  }

  private async query<T>(read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (err) {
      const message = `cannot read the package database: ${errorMessage(err)}`;
      throw err instanceof TimedOutError ? new TimedOutError(message, { cause: err }) : new FailedError(message, { cause: err });
    }
  }

  private async change(action: AptAction, packages: string[]): Promise<CommandOutputBody> {
    const run = ++this.runs;
    const command = `apt/${action}`;
    const { bus, base, log } = this.deps;
    if (this.aptGet.pending > 0) log.info(`${command}: waiting for ${this.aptGet.pending} apt command(s) before it`);
    const output = await this.aptGet.run({
      action,
      packages,
      onLine: (line) => {
        // Progress is best effort: a broker that is away must not fail the command.
        bus.publish(streamTopic(base, 'apt/progress'), encodeStream('apt/progress', { command, run, line }), { qos: 0 }).catch(() => {});
      },
    });
    return { output };
  }
}
