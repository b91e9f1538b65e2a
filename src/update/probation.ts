// The running agent's side of an update's probation (design: src/update/releases.ts). At start it
// reads the update state: a release on probation that is this version commits once it has
// answered a `status` through the broker, or, at its deadline, records that it expired and asks to
// be restarted (the selector then rolls it back). A release that an update was rolled back to
// reports that once, on B/update, when connected. It also gives `status` the last update's outcome.

import { formatError, topics, type UpdateOutcome } from '../api.js';
import { errorMessage, type Logger } from '../log.js';
import type { MessageBus } from '../mqtt/message-bus.js';
import { EXIT_PROBATION_EXPIRED, readUpdateState, writeUpdateState, type UpdateState } from './releases.js';

export interface ProbationOptions {
  releasesDir: string;
  /** This agent's version. */
  version: string;
  probationSeconds: number;
  bus: MessageBus;
  base: string;
  log: Logger;
  /** Ends the process with this code after a clean stop (the service restarts it). */
  requestExit: (code: number, why: string) => void;
  /** The -check_ro_fs guard: the state lives on the root file system on most devices. */
  writable: { around<T>(work: () => Promise<T>): Promise<T> };
}

export class Probation {
  private state: UpdateState | undefined;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly options: ProbationOptions) {}

  async start(): Promise<void> {
    const { releasesDir, version, probationSeconds, log, bus } = this.options;
    this.state = await readUpdateState(releasesDir);
    const state = this.state;
    if (!state) return;
    if (state.phase === 'probation' && state.version === version) {
      log.info(`on probation after the update from ${state.from || 'the packaged release'} (start ${state.starts}): committing once status is answered, within ${probationSeconds} s`);
      this.timer = setTimeout(() => this.expire(), probationSeconds * 1000);
    } else if (state.phase === 'rolled-back' && !state.reported && state.version !== version) {
      if (bus.connected) void this.report();
      else bus.on('connect', this.report);
    }
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.options.bus.off('connect', this.report);
  }

  /** The last update, for `status`. */
  outcome(): UpdateOutcome | undefined {
    const state = this.state;
    if (!state) return undefined;
    const outcome: UpdateOutcome = {
      version: state.version,
      from: state.from,
      outcome: state.phase === 'committed' ? 'committed' : state.phase === 'probation' ? 'probation' : 'rolled back',
    };
    if (state.phase === 'rolled-back' || state.phase === 'expired') outcome.reason = state.reason;
    return outcome;
  }

  /** A `status` request was answered (it came through the broker, so the agent is connected). */
  statusAnswered(): void {
    const state = this.state;
    if (!this.timer || !state) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.state = { ...state, phase: 'committed' };
    this.save(`update to ${state.version} committed`);
  }

  private expire(): void {
    const state = this.state;
    this.timer = undefined;
    if (!state) return;
    const reason = `not connected and answering status within ${this.options.probationSeconds} s`;
    this.state = { ...state, phase: 'expired', reason };
    this.save(`update to ${state.version} expired: ${reason}`);
    void this.writing.then(() => this.options.requestExit(EXIT_PROBATION_EXPIRED, `probation expired: ${reason}`));
  }

  /** Replaces the state file, one write after the other. */
  private save(what: string): void {
    const state = this.state!;
    this.writing = this.writing.then(
      () => this.options.writable.around(() => writeUpdateState(this.options.releasesDir, state)).then(() => this.options.log.info(what)),
    ).catch((err: unknown) => this.options.log.error(`${what}, but the update state was not saved: ${errorMessage(err)}`));
  }

  private readonly report = async () => {
    const { bus, base, log } = this.options;
    bus.off('connect', this.report);
    const state = this.state;
    if (!state) return;
    const message = `update to ${state.version} rolled back: ${state.reason}`;
    try {
      await bus.publish(topics.answer(base, 'update'), formatError(message), { qos: 1 });
    } catch (err) {
      log.warn(`rollback not reported yet: ${errorMessage(err)}`);
      bus.on('connect', this.report);
      return;
    }
    log.warn(message);
    this.state = { ...state, reported: true };
    this.save('rollback reported');
  };
}
