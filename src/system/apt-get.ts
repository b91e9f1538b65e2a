// Changes to the installed packages go through apt-get, one at a time: dpkg has one global lock,
// so a second request waits its turn in a queue rather than failing on the lock. Runs never ask
// questions (no terminal, no conffile prompts) and their output is streamed as it comes.

import { FailedError, TimedOutError } from '../errors.js';
import { errorMessage } from '../log.js';
import { RunTimeoutError, runCommand, tailOfOutput, type RunResult } from '../lib/run-command.js';
import { SerialQueue } from '../lib/serial-queue.js';

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
  /** A run still going after this long (a hung maintainer script) is stopped, so the queue moves
   * on (default 30 minutes). */
  timeoutMs?: number;
  /** Time between SIGTERM and SIGKILL of a stopped run (default 5 s). */
  killGraceMs?: number;
  /** Output in a success answer: its last this many bytes (default 64 KiB; every line was
   * streamed while it ran). AWS IoT refuses messages over 128 KiB. */
  answerOutputBytes?: number;
  /** Output in an ERROR: answer, which is also logged: its last this many bytes (default 2 KiB,
   * where apt-get puts its "E:" lines). */
  errorOutputBytes?: number;
}

export const DEFAULT_APT_TIMEOUT_MS = 30 * 60_000;

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
  private readonly runs = new SerialQueue();

  constructor(private readonly options: AptGetOptions = {}) {}

  /** Runs waiting behind this one or running now. */
  get pending(): number {
    return this.runs.pending;
  }

  /** Runs apt-get once every earlier run ended; resolves with its whole output, or throws a
   * FailedError (a TimedOutError when it was stopped) carrying that output's end. */
  run(request: AptRun): Promise<string> {
    return this.runs.run(() => this.execute(request));
  }

  private async execute({ action, packages, onLine }: AptRun): Promise<string> {
    // No questions from debconf, apt-listchanges or ucf (ucf keeps the local file, like --force-confold).
    const env = { ...(this.options.env ?? process.env), DEBIAN_FRONTEND: 'noninteractive', APT_LISTCHANGES_FRONTEND: 'none', UCF_FORCE_CONFFOLD: '1' };
    const around = this.options.around ?? (<T>(work: () => Promise<T>) => work());
    this.options.onChange?.();
    const errorBytes = this.options.errorOutputBytes ?? 2048;
    /** One command of the run; `label` names it in errors ("apt-get install"). */
    const run = (label: string, command: string, args: string[]) =>
      runCommand(command, args, {
        label,
        env,
        onLine: onLine && ((line) => onLine(line)),
        maxOutputBytes: this.options.answerOutputBytes ?? 64 * 1024,
        timeoutMs: this.options.timeoutMs ?? DEFAULT_APT_TIMEOUT_MS,
        killGraceMs: this.options.killGraceMs,
      }).catch((err: unknown) => {
        if (err instanceof RunTimeoutError) {
          throw new TimedOutError(`${err.message} (the next apt command runs dpkg --configure -a first):\n${tailOfOutput(err.output, errorBytes)}`, { cause: err });
        }
        throw new FailedError(`${label} could not run: ${errorMessage(err)}`, { cause: err });
      });
    try {
      const result = await around(async () => {
        const first = await run(`apt-get ${action}`, 'apt-get', aptGetArguments(action, packages));
        if (first.code === 0 || !dpkgInterrupted(first.output)) return first;
        // An earlier run was stopped half-way (a time-out, a power cut): apt refuses everything
        // until the interrupted configuration is finished. Finish it, then try once more.
        onLine?.('arduino-connector: dpkg was interrupted; running dpkg --configure -a first');
        const repair = await run('dpkg --configure -a', 'dpkg', ['--configure', '-a', '--force-confdef', '--force-confold']);
        if (repair.code !== 0) {
          throw new FailedError(`apt-get ${action}: dpkg was interrupted, and dpkg --configure -a ${describeExit(repair)}:\n${tailOfOutput(repair.output, errorBytes)}`);
        }
        const second = await run(`apt-get ${action}`, 'apt-get', aptGetArguments(action, packages));
        return { ...second, output: `${repair.output}${second.output}` };
      });
      if (result.code !== 0) {
        throw new FailedError(`apt-get ${action} ${describeExit(result)}:\n${tailOfOutput(result.output, errorBytes)}`);
      }
      return result.output;
    } finally {
      this.options.onChange?.();
    }
  }
}

function describeExit(result: RunResult): string {
  return result.code === null ? `was killed by ${result.signal}` : `exited with ${result.code}`;
}

/** apt's refusal to work after dpkg was stopped in the middle of a run. */
export function dpkgInterrupted(output: string): boolean {
  return /E: dpkg was interrupted, you must manually run 'dpkg --configure -a'/.test(output);
}
