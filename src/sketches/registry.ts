// The sketches of the device: one supervisor per sketch id, the persistent table of what should
// run after a reboot, and the lock that runs actions on one sketch one at a time. It is the
// status source of B/status and the host every supervisor reports to.

import { chmod, mkdir, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { SketchStatus } from '../api.js';
import { FailedError, NotFoundError, RefusedError } from '../errors.js';
import { errorMessage, type Logger } from '../log.js';
import type { WritableMount } from '../system/ro-fs.js';
import { removeStaleDownloads } from './download.js';
import { KeyedLock } from './id-lock.js';
import { stillRunning, type ProcessIdentity } from './process-identity.js';
import type { SketchLauncher } from './launcher.js';
import { isFileName, sketchFilePath } from './names.js';
import type { SketchStatusSource } from './status-source.js';
import { SketchSupervisor, type SketchAction, type SketchHost } from './supervisor.js';
import { SketchTable, type SketchRecord } from './table.js';

/** The id and name of the sketch installed through the drop folder (the original's USB path). */
export const droppedSketchId = 'sketchLoadedThroughUSB';

export interface RegistryOptions {
  /** Holds the sketch files (0700). */
  sketchesDir: string;
  tableFile: string;
  writable: WritableMount;
  launcher: SketchLauncher;
  log: Logger;
}

export class SketchRegistry implements SketchStatusSource, SketchHost {
  readonly launcher: SketchLauncher;
  readonly log: Logger;
  private readonly sketches = new Map<string, SketchSupervisor>();
  private readonly listeners = new Set<() => void>();
  private readonly lock = new KeyedLock();
  private table: SketchTable | undefined;
  private closing = false;

  constructor(private readonly options: RegistryOptions) {
    this.launcher = options.launcher;
    this.log = options.log;
  }

  /** Makes the folder, clears what an interrupted run left, reads the table and lists the files
   * it does not know. Nothing is kept unless all of it succeeded. */
  async open(): Promise<void> {
    const { sketchesDir, tableFile, log } = this.options;
    const table = await this.options.writable.around(async () => {
      await mkdir(sketchesDir, { recursive: true, mode: 0o700 });
      await chmod(sketchesDir, 0o700);
      for (const name of await removeStaleDownloads(sketchesDir)) log.info(`removed ${name}, left by an interrupted download`);
      // Opening removes temp files of an interrupted table write.
      return SketchTable.open(tableFile, { log });
    });
    const found = new Map<string, SketchSupervisor>();
    for (const record of table.list()) found.set(record.id, new SketchSupervisor(record.id, record.name, record.desired, this));
    // A sketch that outlived a killed agent (it ignored the terminal's hang-up) would otherwise
    // run twice once the agent starts it again.
    for (const record of table.list()) if (record.process) await endLeftover(record.id, record.process, log);
    for (const name of await this.untrackedFiles(found)) found.set(name, new SketchSupervisor(name, name, 'STOPPED', this));
    this.table = table;
    for (const [id, sketch] of found) this.sketches.set(id, sketch);
  }

  /** A device that reboots gets its programs back: those last wanted RUNNING, and a dropped one. */
  async restore(): Promise<void> {
    for (const sketch of this.sketches.values()) {
      if (sketch.desired !== 'RUNNING' && sketch.id !== droppedSketchId) continue;
      try {
        const pid = await this.options.writable.around(() => this.lock.run(sketch.id, () => sketch.spawn()));
        this.log.info(`restarted sketch ${sketch.id} (${sketch.name}), pid ${pid}`);
      } catch (err) {
        this.log.error(`sketch ${sketch.id} could not be restarted: ${errorMessage(err)}`);
      }
    }
    this.notify();
  }

  /** Runs an action on a sketch, after every earlier command on it. */
  perform(id: string, action: SketchAction): Promise<void> {
    return this.exclusive(id, async (sketch) => {
      if (!sketch) throw new NotFoundError(`no sketch with id ${id}`);
      await sketch.perform(action);
    });
  }

  /**
   * Runs `work` on sketch `id` (undefined when there is none) with the root file system writable
   * and the sketch's lock held, in that order (id-lock.ts).
   */
  exclusive<T>(id: string, work: (sketch: SketchSupervisor | undefined) => Promise<T>): Promise<T> {
    if (this.closing) return Promise.reject(shuttingDown());
    return this.options.writable.around(() => this.lock.run(id, () => work(this.sketches.get(id))));
  }

  /** Runs `work` with the root file system writable (-check_ro_fs); take it before a sketch's lock. */
  writing<T>(work: () => Promise<T>): Promise<T> {
    return this.options.writable.around(work);
  }

  /** A new, stopped sketch under `id`; the caller holds its lock. */
  adopt(id: string, name: string): SketchSupervisor {
    const sketch = new SketchSupervisor(id, name, 'STOPPED', this);
    this.sketches.set(id, sketch);
    return sketch;
  }

  /** The id of the sketch whose file is `name`, other than `id`. */
  otherOwnerOf(name: string, id: string): string | undefined {
    for (const sketch of this.sketches.values()) if (sketch.id !== id && sketch.name === name) return sketch.id;
    return undefined;
  }

  get(id: string): SketchSupervisor | undefined {
    return this.sketches.get(id);
  }

  /** The running sketch started last (B/stdin goes to it). */
  mostRecentlyStarted(): SketchSupervisor | undefined {
    let best: SketchSupervisor | undefined;
    for (const s of this.sketches.values()) if (s.process && (!best || s.startedAt > best.startedAt)) best = s;
    return best;
  }

  /** Refuses new commands, waits for those running, and stops every process; the desired states
   * stay as they are, so the next start brings the same sketches back. */
  async close(): Promise<void> {
    // A shutting-down agent stops its sketches, but that is not a change the cloud should record.
    this.closing = true;
    await this.lock.close(shuttingDown());
    await Promise.all([...this.sketches.values()].map((s) => s.stopProcess().catch((err) => this.log.error(errorMessage(err)))));
  }

  // ---- SketchStatusSource --------------------------------------------------------------------

  snapshot(): Record<string, SketchStatus> {
    const out: Record<string, SketchStatus> = {};
    for (const sketch of this.sketches.values()) out[sketch.id] = sketch.status();
    return out;
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---- SketchHost ----------------------------------------------------------------------------

  fileOf(name: string): string {
    return sketchFilePath(this.options.sketchesDir, name);
  }

  async remember(record: SketchRecord): Promise<void> {
    if (!this.table) throw new FailedError('the sketch table is not open');
    await this.table.put(record);
  }

  async forget(sketch: SketchSupervisor): Promise<void> {
    await unlink(this.fileOf(sketch.name)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw new FailedError(`cannot remove the sketch file: ${err.message}`, { cause: err });
    });
    await this.table?.remove(sketch.id);
    this.sketches.delete(sketch.id);
    this.notify();
  }

  changed(): void {
    this.notify();
  }

  private notify(): void {
    if (this.closing) return;
    for (const listener of this.listeners) {
      try {
        listener();
      } catch (err) {
        this.log.warn(`status listener failed: ${errorMessage(err)}`);
      }
    }
  }

  /** Files in the folder that the table does not know are listed under their file name, as the
   * original did; temp files of an interrupted drop are removed. */
  private async untrackedFiles(known: Map<string, SketchSupervisor>): Promise<string[]> {
    const { sketchesDir, writable } = this.options;
    const names = new Set([...known.values()].map((s) => s.name));
    const out: string[] = [];
    for (const entry of await readdir(sketchesDir, { withFileTypes: true })) {
      if (!entry.isFile()) continue;
      if (entry.name.startsWith('.')) {
        if (/^\.drop-[0-9a-f]+\.tmp$/.test(entry.name)) await writable.around(() => unlink(join(sketchesDir, entry.name))).catch(() => {});
        continue;
      }
      if (names.has(entry.name) || known.has(entry.name)) continue;
      // Its name could not be an id (it would be a wildcard in B/sketches/<id>/stdout).
      if (!isFileName(entry.name)) {
        this.log.warn(`file ${JSON.stringify(entry.name)} in the sketches folder is not listed: not a valid sketch id`);
        continue;
      }
      out.push(entry.name);
    }
    return out;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Ends the process group of a sketch started by an earlier run of the agent, if it still runs:
 * SIGTERM, then SIGKILL after 3 s. */
async function endLeftover(id: string, identity: ProcessIdentity, log: Logger): Promise<void> {
  if (!(await stillRunning(identity))) return;
  log.warn(`sketch ${id}: pid ${identity.pid} is still running from an earlier run of the agent; ending it`);
  const signal = (name: NodeJS.Signals) => {
    // The sketch leads its own process group (its terminal's session); its children go with it.
    try {
      process.kill(-identity.pid, name);
    } catch {
      try {
        process.kill(identity.pid, name);
      } catch {
        // Gone meanwhile.
      }
    }
  };
  for (const [name, waitMs] of [['SIGTERM', 3000], ['SIGKILL', 2000]] as const) {
    signal(name);
    for (let waited = 0; waited < waitMs; waited += 50) {
      if (!(await stillRunning(identity))) return;
      await sleep(50);
    }
  }
  log.error(`sketch ${id}: pid ${identity.pid} from an earlier run could not be ended`);
}

function shuttingDown(): RefusedError {
  return new RefusedError('the agent is shutting down');
}
