// apt/get, apt/list (queries, answered from the cached package index) and apt/update, install,
// upgrade, remove (changes, run one at a time by apt-get; their output lines are also published
// on B/apt/progress as they come).

import { topics, type AptListBody, type AptPackage, type CommandOutputBody } from '../api.js';
import { FailedError, TimedOutError } from '../errors.js';
import type { AgentContext } from '../legacy-features.js';
import { errorMessage } from '../log.js';
import { PackageIndex, type PackageRecord } from '../system/apt-cache.js';
import { AptGet, type AptAction } from '../system/apt-get.js';
import { WritableMount } from '../system/ro-fs.js';

export const APT_PAGE_SIZE = 30;

export interface AptCommandsOptions {
  /** Environment of apt and dpkg (default: the agent's; APT_CONFIG selects another configuration). */
  env?: NodeJS.ProcessEnv;
  index?: PackageIndex;
  aptGet?: AptGet;
  /** The -check_ro_fs wrapper; share one with every feature that writes to the root file system. */
  writable?: WritableMount;
  /** apt-get runs still going after this long are stopped (default 30 minutes). */
  changeTimeoutMs?: number;
  /** apt and dpkg queries still going after this long are stopped (default 2 minutes). */
  queryTimeoutMs?: number;
}

/** One line of a running apt command, as published on B/apt/progress. */
export interface AptProgressLine {
  command: string;
  /** Counts runs since the agent started, so lines of consecutive runs can be told apart. */
  run: number;
  line: string;
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

export class AptCommands {
  readonly name = 'apt';
  readonly index: PackageIndex;
  readonly aptGet: AptGet;
  private runs = 0;

  constructor(private readonly context: AgentContext, options: AptCommandsOptions = {}) {
    const env = options.env ?? process.env;
    const writable = options.writable ?? new WritableMount({ enabled: context.settings.check_ro_fs, env });
    this.index = options.index ?? new PackageIndex({ env, queryTimeoutMs: options.queryTimeoutMs });
    this.aptGet = options.aptGet ?? new AptGet({ env, around: (work) => writable.around(work), timeoutMs: options.changeTimeoutMs });
  }

  async start(): Promise<void> {
    const { router } = this.context;
    router.register('apt/get', async (request) => ({ packages: (await this.query(() => this.index.get(request.package))).map(toWirePackage) }));
    router.register('apt/list', async (request) => {
      const search = request.search ?? '';
      const rows = await this.query(() => (search === '' ? this.index.upgradable() : this.index.search(search)));
      return pageOf(rows, request.page ?? 0);
    });
    router.register('apt/update', async () => this.change('update', []));
    router.register('apt/install', async (request) => this.change('install', request.packages));
    router.register('apt/upgrade', async (request) => this.change('upgrade', request.packages));
    router.register('apt/remove', async (request) => this.change('remove', request.packages));
  }

  async stop(): Promise<void> {
    this.index.close();
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
    const { bus, base, log } = this.context;
    if (this.aptGet.pending > 0) log.info(`${command}: waiting for ${this.aptGet.pending} apt command(s) before it`);
    const output = await this.aptGet.run({
      action,
      packages,
      onLine: (line) => {
        const progress: AptProgressLine = { command, run, line };
        // Progress is best effort: a broker that is away must not fail the command.
        bus.publish(topics.aptProgress(base), JSON.stringify(progress), { qos: 0 }).catch(() => {});
      },
    });
    return { output };
  }
}
