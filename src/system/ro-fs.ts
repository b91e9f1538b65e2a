// -check_ro_fs: on devices whose root file system is mounted read-only, a command that writes
// (apt, repository files) needs it read-write for its duration and read-only again after, even
// when the command fails. Overlapping commands share one read-write window.

import { FailedError } from '../errors.js';
import { errorMessage } from '../log.js';
import { runCommand } from '../lib/run-command.js';

export interface WritableMountOptions {
  /** Whether to remount at all (settings.check_ro_fs); when false, `around` just runs. */
  enabled: boolean;
  /** The mount point to remount (default "/"). */
  mountPoint?: string;
  env?: NodeJS.ProcessEnv;
}

export class WritableMount {
  private users = 0;
  private transition: Promise<void> = Promise.resolve();

  constructor(private readonly options: WritableMountOptions) {}

  get mountPoint(): string {
    return this.options.mountPoint ?? '/';
  }

  private async remount(mode: 'rw' | 'ro'): Promise<void> {
    const result = await runCommand('mount', ['-o', `remount,${mode}`, this.mountPoint], { env: this.options.env });
    if (result.code !== 0) throw new FailedError(`cannot remount ${this.mountPoint} ${mode === 'rw' ? 'read-write' : 'read-only'}: ${result.output.trim()}`);
  }

  /** Serialises remounts so a read-only remount never overtakes a read-write one. */
  private step(action: () => Promise<void>): Promise<void> {
    const next = this.transition.then(action);
    this.transition = next.catch(() => {});
    return next;
  }

  /** Runs `work` with the mount point writable; read-only again once the last user is done. */
  async around<T>(work: () => Promise<T>): Promise<T> {
    if (!this.options.enabled) return work();
    await this.step(async () => {
      if (this.users === 0) await this.remount('rw');
      this.users++;
    });
    let outcome: { ok: true; value: T } | { ok: false; error: unknown };
    try {
      outcome = { ok: true, value: await work() };
    } catch (error) {
      outcome = { ok: false, error };
    }
    try {
      await this.step(async () => {
        this.users--;
        if (this.users === 0) await this.remount('ro');
      });
    } catch (err) {
      // The device must not silently stay writable, but the requester must also learn that the
      // command itself did run.
      const how = outcome.ok ? 'the command completed' : `the command failed too: ${errorMessage(outcome.error)}`;
      throw new FailedError(`${errorMessage(err)} (${how})`, { cause: err });
    }
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  }
}
