// One sketch's state machine: RUNNING, PAUSED or STOPPED, the process that runs it, how it last
// ended, and the state it should be in after a reboot. Every change of state goes through
// setState(), which also tells the registry (and so B/status). The sketch actions are a table from
// action to executor; they run under the sketch's lock (id-lock.ts), never two at once.

import { constants as fsConstants } from 'node:fs';
import { access } from 'node:fs/promises';
import type { SketchState, SketchStatus } from '../api.js';
import { ConflictError, FailedError, NotFoundError } from '../errors.js';
import { errorMessage, type Logger } from '../log.js';
import type { SketchLauncher } from './launcher.js';
import { SketchStopError, type SketchExit, type SketchProcess } from './process.js';
import { identify, type ProcessIdentity } from './process-identity.js';
import type { DesiredState, SketchRecord } from './table.js';

export type SketchAction = 'START' | 'STOP' | 'PAUSE' | 'DELETE';

/** What each action does to a sketch. */
const executors: { readonly [A in SketchAction]: (sketch: SketchSupervisor) => Promise<void> } = {
  START: async (sketch) => {
    if (sketch.state === 'PAUSED') sketch.resume();
    else if (sketch.state === 'STOPPED') await sketch.spawn();
    await sketch.remember('RUNNING');
  },
  STOP: async (sketch) => {
    await sketch.stopProcess();
    await sketch.remember('STOPPED');
  },
  PAUSE: async (sketch) => {
    if (sketch.state === 'STOPPED') throw new ConflictError(`sketch ${sketch.id} is not running`);
    if (sketch.state === 'RUNNING') await sketch.pause();
    await sketch.remember('PAUSED');
  },
  DELETE: async (sketch) => {
    await sketch.stopProcess();
    await sketch.host.forget(sketch);
  },
};

/** What a sketch needs of the registry that keeps it. */
export interface SketchHost {
  readonly launcher: SketchLauncher;
  readonly log: Logger;
  /** The path of a sketch file; refuses a name that could leave the sketches folder. */
  fileOf(name: string): string;
  /** Saves the sketch's record in the sketch table. */
  remember(record: SketchRecord): Promise<void>;
  /** Removes the sketch's file and record, and the sketch itself. */
  forget(sketch: SketchSupervisor): Promise<void>;
  /** Called after every change of state. */
  changed(sketch: SketchSupervisor): void;
}

export class SketchSupervisor {
  private current: SketchState = 'STOPPED';
  private child: SketchProcess | undefined;
  /** How it last ended, when it ended by itself. */
  private lastExit: SketchExit | undefined;
  /** Set while the agent itself ends the process, so its end is not reported as the sketch's own. */
  private stopRequested = false;
  /** Who the running process is, as written in the sketch table. */
  private identity: ProcessIdentity | undefined;
  /** When it was last started (B/stdin goes to the most recently started sketch). */
  startedAt = 0n;

  constructor(readonly id: string, private fileName: string, private wanted: DesiredState, readonly host: SketchHost) {}

  get name(): string {
    return this.fileName;
  }

  get state(): SketchState {
    return this.current;
  }

  get desired(): DesiredState {
    return this.wanted;
  }

  get process(): SketchProcess | undefined {
    return this.child;
  }

  /** Runs one action; the caller holds the sketch's lock. */
  perform(action: SketchAction): Promise<void> {
    return executors[action](this);
  }

  status(): SketchStatus {
    const status: SketchStatus = { name: this.name, id: this.id, pid: this.child && this.current !== 'STOPPED' ? this.child.pid : 0, status: this.current, endpoints: null };
    if (this.current === 'STOPPED' && this.lastExit) {
      status.exit_code = this.lastExit.exit_code;
      status.signal = this.lastExit.signal;
    }
    return status;
  }

  /** The sketch now runs from the file `name` (a new upload); how the old one ended is forgotten. */
  replaceFile(name: string): void {
    this.fileName = name;
    this.lastExit = undefined;
  }

  async remember(desired: DesiredState): Promise<void> {
    this.wanted = desired;
    try {
      const record: SketchRecord = { id: this.id, name: this.name, desired };
      if (this.child && this.identity?.pid === this.child.pid) record.process = this.identity;
      await this.host.remember(record);
    } catch (err) {
      throw new FailedError(`the sketch table could not be saved: ${errorMessage(err)}`, { cause: err });
    }
  }

  async spawn(): Promise<number> {
    const file = this.host.fileOf(this.name);
    try {
      await access(file, fsConstants.X_OK);
    } catch {
      throw new NotFoundError(`the file of sketch ${this.id} (${this.name}) is missing or not executable`);
    }
    const { process: child } = this.host.launcher.launch(this.id, this.name, file);
    this.child = child;
    this.lastExit = undefined;
    this.stopRequested = false;
    this.startedAt = process.hrtime.bigint();
    void child.exited.then((exit) => this.ended(child, exit));
    this.host.log.info(`sketch ${this.id} (${this.name}) started, pid ${child.pid}`);
    // Written at once, so a later run can tell this process from a stranger's and end it if it
    // outlives the agent; before the state is told, so B/status never runs ahead of the table.
    this.identity = await identify(child.pid);
    await this.remember(this.wanted).catch((err) => this.host.log.warn(`sketch ${this.id}: its process was not recorded: ${errorMessage(err)}`));
    if (this.child === child) this.setState('RUNNING');
    return child.pid;
  }

  resume(): void {
    this.child?.resume();
    this.setState('RUNNING');
  }

  async pause(): Promise<void> {
    const child = this.child;
    if (!child) throw new ConflictError(`sketch ${this.id} is not running`);
    await child.pause();
    if (this.child === child && child.state === 'paused') this.setState('PAUSED');
  }

  /** Ends the process, if any; the desired state is the caller's business. */
  async stopProcess(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.stopRequested = true;
    try {
      await child.stop();
    } catch (err) {
      if (!(err instanceof SketchStopError)) throw err;
      // Its state stays what it was: the process is still there, and STOP may be tried again.
      this.host.log.error(`sketch ${this.id}: ${err.message}`);
      throw new FailedError(`sketch ${this.id} could not be stopped: ${err.message}`, { cause: err });
    }
    // ended() ran when the exit was reported; this covers an exit not reported yet.
    if (this.child === child) {
      this.child = undefined;
      this.setState('STOPPED');
    }
  }

  private ended(child: SketchProcess, exit: SketchExit): void {
    if (this.child !== child) return;
    this.child = undefined;
    if (!this.stopRequested) {
      this.lastExit = exit;
      this.host.log.info(`sketch ${this.id} ended by itself (exit code ${exit.exit_code}, signal ${exit.signal})`);
    }
    this.setState('STOPPED');
  }

  private setState(state: SketchState): void {
    this.current = state;
    this.host.changed(this);
  }
}
