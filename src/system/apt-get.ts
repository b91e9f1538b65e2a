// Changes to the installed packages go through apt-get, one at a time: dpkg has one global lock,
// so a second request waits its turn in a queue rather than failing on the lock. Runs never ask
// questions (no terminal, no conffile prompts) and their output is streamed as it comes.

import { CommandError } from '../errors.js';
import { runCommand } from './run-command.js';

export type AptAction = 'install' | 'upgrade' | 'remove' | 'update';

export interface AptRun {
  action: AptAction;
  packages: readonly string[];
  /** Called with each output line while the command runs. */
  onLine?: (line: string) => void;
}

export interface AptGetOptions {
  /** Environment of apt-get (APT_CONFIG selects another apt configuration). */
  env?: NodeJS.ProcessEnv;
  /** Wraps each run, e.g. to make the root file system writable for its duration. */
  around?: <T>(work: () => Promise<T>) => Promise<T>;
  /** Called before and after each run (the package index uses it to drop stale answers). */
  onChange?: () => void;
}

/** The flags every run gets: yes to everything, keep local conffiles, no pty progress bar. */
const nonInteractive = [
  '-y',
  '-q',
  '-o', 'Dpkg::Options::=--force-confdef',
  '-o', 'Dpkg::Options::=--force-confold',
  '-o', 'Dpkg::Use-Pty=0',
  '-o', 'APT::Color=0',
];

/** The argv of apt-get for a request. Package names were validated by the API (they can never
 * start with "-"); "--" is still there so apt-get could not read one as an option. */
export function aptGetArguments(action: AptAction, packages: readonly string[]): string[] {
  switch (action) {
    case 'update':
      return ['update', ...nonInteractive];
    case 'install':
      return ['install', ...nonInteractive, '--', ...packages];
    case 'remove':
      return ['remove', ...nonInteractive, '--', ...packages];
    case 'upgrade':
      // Named packages are upgraded only if installed; none named means everything.
      return packages.length === 0 ? ['upgrade', ...nonInteractive] : ['install', '--only-upgrade', ...nonInteractive, '--', ...packages];
  }
}

export class AptGet {
  private queue: Promise<unknown> = Promise.resolve();
  private waiting = 0;

  constructor(private readonly options: AptGetOptions = {}) {}

  /** Runs waiting behind this one or running now. */
  get pending(): number {
    return this.waiting;
  }

  /** Runs apt-get once every earlier run ended; resolves with its whole output, or throws a
   * CommandError carrying that output when apt-get fails. */
  run(request: AptRun): Promise<string> {
    this.waiting++;
    const turn = this.queue.then(() => this.execute(request));
    this.queue = turn.catch(() => {}).finally(() => this.waiting--);
    return turn;
  }

  private async execute({ action, packages, onLine }: AptRun): Promise<string> {
    // No questions from debconf, apt-listchanges or ucf (ucf keeps the local file, like --force-confold).
    const env = { ...(this.options.env ?? process.env), DEBIAN_FRONTEND: 'noninteractive', APT_LISTCHANGES_FRONTEND: 'none', UCF_FORCE_CONFFOLD: '1' };
    const args = aptGetArguments(action, packages);
    const around = this.options.around ?? (<T>(work: () => Promise<T>) => work());
    this.options.onChange?.();
    try {
      const result = await around(() => runCommand('apt-get', args, { env, onLine: onLine && ((line) => onLine(line)) }));
      if (result.code !== 0) {
        const how = result.code === null ? `was killed by ${result.signal}` : `exited with ${result.code}`;
        throw new CommandError(`apt-get ${action} ${how}:\n${result.output}`);
      }
      return result.output;
    } finally {
      this.options.onChange?.();
    }
  }
}
