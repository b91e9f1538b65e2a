// The sketches of the device: the `upload` and `sketch` commands, the supervised processes, their
// output and input over MQTT, the persistent table of what should run, and the drop folder.
// Commands on one sketch id run one at a time; different sketches do not wait for each other.

import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { access, chmod, constants as fsConstants, mkdir, readdir, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { formatError, topics, type RequestOf, type SketchState, type SketchStatus } from '../api.js';
import { CommandError } from '../errors.js';
import type { AgentContext, Feature } from '../feature.js';
import { errorMessage } from '../log.js';
import type { WritableMount } from '../system/ro-fs.js';
import { downloadVerified, removeStaleDownloads } from './download.js';
import { DropFolder } from './drop-folder.js';
import { sketchEnvironment } from './environment.js';
import { checkFileName, isFileName, sketchFilePath } from './names.js';
import { SketchOutput, type SketchOutputOptions } from './output.js';
import { SketchProcess, SketchStopError, type SketchExit } from './process.js';
import { MessageRateLimiter } from './rate-limit.js';
import { loadSignatureKey } from './signature.js';
import type { SketchStatusSource } from './status-source.js';
import { SketchTable, type DesiredState } from './table.js';

/** The id and name of the sketch installed through the drop folder (the original's USB path). */
export const droppedSketchId = 'sketchLoadedThroughUSB';

export interface SketchManagerOptions {
  /** STOP waits this long after SIGTERM before SIGKILL (default 3 s). */
  stopGraceMs?: number;
  /** PAUSE lets a sketch that handles SIGTSTP this long to stop itself (default 300 ms). */
  pauseGraceMs?: number;
  /** A dropped file must stay unchanged this long before it is installed (default 2 s). */
  dropSettleMs?: number;
  /** Connect and idle time-out of sketch downloads (default 30 s). */
  downloadTimeoutMs?: number;
  /** Limit on a whole sketch download, signature included (default 10 minutes). */
  downloadDeadlineMs?: number;
  /** STOP gives up on a process still there this long after SIGKILL (default 10 s). */
  killWaitMs?: number;
  /** -check_ro_fs: every write of the manager to disk runs through it. */
  writable?: WritableMount;
  /** Paces the output of all sketches (default: the original's 1,000 a day, then slower). */
  limiter?: MessageRateLimiter;
  output?: Pick<SketchOutputOptions, 'maxMessageBytes' | 'flushDelayMs' | 'highWaterBytes' | 'maxInFlight'>;
  /** The environment sketches inherit (default process.env). */
  environment?: NodeJS.ProcessEnv;
}

interface Sketch {
  id: string;
  name: string;
  desired: DesiredState;
  state: SketchState;
  process?: SketchProcess;
  output?: SketchOutput;
  /** How it last ended, when it ended by itself. */
  lastExit?: SketchExit;
  stopRequested: boolean;
  /** Order of starts, so B/stdin goes to the most recently started sketch. */
  startedAt: number;
}

export class SketchManager implements Feature, SketchStatusSource {
  readonly name = 'sketches';
  readonly sketchesDir: string;
  readonly tableFile: string;
  private readonly sketches = new Map<string, Sketch>();
  private readonly listeners = new Set<() => void>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly limiter: MessageRateLimiter;
  private readonly abort = new AbortController();
  private readonly draining = new Set<Promise<void>>();
  /** Outputs still publishing, also of sketches that ended (their last output is on its way). */
  private readonly outputs = new Set<SketchOutput>();
  private table: SketchTable | undefined;
  private environment: Record<string, string> = {};
  private dropFolder: DropFolder | undefined;
  private startCounter = 0;
  private stopping = false;
  /** Names of sketch files being installed, with the id installing each: reserved before the first
   * await, so two uploads can never both decide a name is free. */
  private readonly reservedNames = new Map<string, string>();
  private readonly nameClaims = new Map<string, number>();
  private readonly stdinTopic: string;
  private readonly sketchStdinFilter: string;

  constructor(private readonly context: AgentContext, private readonly options: SketchManagerOptions = {}) {
    this.sketchesDir = join(context.settings.sketches_path, 'sketches');
    this.tableFile = join(context.settings.sketches_path, 'sketches.json');
    this.limiter = options.limiter ?? new MessageRateLimiter();
    this.stdinTopic = topics.stdin(context.base);
    this.sketchStdinFilter = topics.sketchStdin(context.base, '+');
  }

  // ---- SketchStatusSource --------------------------------------------------------------------

  snapshot(): Record<string, SketchStatus> {
    const out: Record<string, SketchStatus> = {};
    for (const s of this.sketches.values()) {
      const status: SketchStatus = { name: s.name, id: s.id, pid: s.process && s.state !== 'STOPPED' ? s.process.pid : 0, status: s.state, endpoints: null };
      if (s.state === 'STOPPED' && s.lastExit) {
        status.exit_code = s.lastExit.exit_code;
        status.signal = s.lastExit.signal;
      }
      out[s.id] = status;
    }
    return out;
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    // A shutting-down agent stops its sketches, but that is not a change the cloud should record.
    if (this.stopping) return;
    for (const listener of this.listeners) {
      try {
        listener();
      } catch (err) {
        this.context.log.warn(`status listener failed: ${errorMessage(err)}`);
      }
    }
  }

  // ---- Feature -------------------------------------------------------------------------------

  async start(): Promise<void> {
    const { settings, router, bus, log } = this.context;
    this.table = await this.writing(async () => {
      await mkdir(this.sketchesDir, { recursive: true, mode: 0o700 });
      await chmod(this.sketchesDir, 0o700);
      for (const name of await removeStaleDownloads(this.sketchesDir)) log.info(`removed ${name}, left by an interrupted download`);
      // Opening removes temp files of an interrupted table write.
      return SketchTable.open(this.tableFile, { log });
    });
    this.environment = sketchEnvironment({ settings, sketchesDir: this.sketchesDir, base: this.options.environment });
    for (const record of this.table.list()) {
      this.sketches.set(record.id, { ...record, state: 'STOPPED', stopRequested: false, startedAt: 0 });
    }
    await this.listUntrackedFiles();

    router.register('upload', (request) => this.upload(request));
    router.register('sketch', (request) => this.command(request));
    await bus.subscribe(this.stdinTopic, (_topic, payload) => this.input(this.mostRecentlyStarted(), payload));
    await bus.subscribe(this.sketchStdinFilter, (topic, payload) => {
      const prefix = `${this.context.base}/sketches/`;
      this.input(this.sketches.get(topic.slice(prefix.length, -'/stdin'.length)), payload);
    });

    // A device that reboots gets its programs back.
    for (const sketch of this.sketches.values()) {
      if (sketch.desired !== 'RUNNING' && sketch.id !== droppedSketchId) continue;
      try {
        await this.spawn(sketch);
        log.info(`restarted sketch ${sketch.id} (${sketch.name}), pid ${sketch.process?.pid}`);
      } catch (err) {
        log.error(`sketch ${sketch.id} could not be restarted: ${errorMessage(err)}`);
      }
    }

    this.dropFolder = new DropFolder({
      folder: settings.drop_folder,
      settleMs: this.options.dropSettleMs,
      log: log.child('drop-folder'),
      onFile: (path) => this.installDropped(path),
    });
    try {
      await this.dropFolder.start();
    } catch (err) {
      // Uploads and everything else still work without it.
      log.error(`drop folder ${settings.drop_folder} unavailable: ${errorMessage(err)}`);
    }
    this.changed();
  }

  async stop(): Promise<void> {
    // From here no command starts a process (spawn refuses) and queued ones are refused, so once
    // the running ones are done nothing can start behind the loop below.
    this.stopping = true;
    this.abort.abort();
    await this.dropFolder?.stop().catch(() => {});
    const { bus, log } = this.context;
    await bus.unsubscribe(this.stdinTopic).catch(() => {});
    await bus.unsubscribe(this.sketchStdinFilter).catch(() => {});
    await Promise.all([...this.locks.values()]);
    // The desired states stay as they are: the next start brings the same sketches back.
    await Promise.all([...this.sketches.values()].map((s) => this.stopProcess(s).catch((err) => log.error(errorMessage(err)))));
    for (const output of this.outputs) output.close();
    await Promise.race([Promise.all(this.draining), new Promise((r) => setTimeout(r, 2000).unref())]);
  }

  // ---- commands ------------------------------------------------------------------------------

  async upload(request: RequestOf<'upload'>): Promise<string> {
    const { settings, log } = this.context;
    let publicKey;
    try {
      publicKey = await loadSignatureKey(settings.signature_key);
    } catch (err) {
      throw new CommandError(`upload refused, no sketch can be verified: ${errorMessage(err)}`);
    }
    checkFileName(request.id, 'sketch id');
    // Refuses a name that could leave the folder before anything is downloaded.
    sketchFilePath(this.sketchesDir, request.name);
    this.refuseWhileStopping();
    const release = this.reserveName(request.id, request.name);
    try {
      // The temp file is written in the sketches folder, so the download needs it writable too.
      return await this.writing(async () => {
        // Outside the sketch's lock: a slow server must not hold up STOP or DELETE of it.
        const download = await downloadVerified({
          url: request.url,
          token: request.token,
          folder: this.sketchesDir,
          maxBytes: settings.max_sketch_size,
          publicKey,
          timeoutMs: this.options.downloadTimeoutMs,
          deadlineMs: this.options.downloadDeadlineMs ?? 10 * 60_000,
          signal: this.abort.signal,
        });
        log.info(`sketch ${request.id} (${request.name}): ${download.bytes} bytes downloaded and verified`);
        try {
          return await this.exclusive(request.id, async () => {
            this.refuseNameClash(request.id, request.name);
            const pid = await this.install(request.id, request.name, download.tempPath);
            return `Sketch started with PID ${pid}`;
          });
        } finally {
          // Gone already once installed; still there when anything before failed.
          await unlink(download.tempPath).catch(() => {});
        }
      });
    } finally {
      release();
    }
  }

  async command(request: RequestOf<'sketch'>): Promise<string> {
    const { id, action } = request;
    return this.exclusive(id, async () => {
      const sketch = this.sketches.get(id);
      if (!sketch) throw new CommandError(`no sketch with id ${id}`);
      switch (action) {
        case 'START':
          if (sketch.state === 'PAUSED') {
            sketch.process?.resume();
            sketch.state = 'RUNNING';
            this.changed();
          } else if (sketch.state === 'STOPPED') {
            await this.spawn(sketch);
          }
          await this.remember(sketch, 'RUNNING');
          break;
        case 'STOP':
          await this.stopProcess(sketch);
          await this.remember(sketch, 'STOPPED');
          break;
        case 'PAUSE':
          if (sketch.state === 'STOPPED' || !sketch.process) throw new CommandError(`sketch ${id} is not running`);
          if (sketch.state === 'RUNNING') {
            await sketch.process.pause();
            if (sketch.process?.state === 'paused') {
              sketch.state = 'PAUSED';
              this.changed();
            }
          }
          await this.remember(sketch, 'PAUSED');
          break;
        case 'DELETE':
          await this.stopProcess(sketch);
          await this.writing(async () => {
            await unlink(sketchFilePath(this.sketchesDir, sketch.name)).catch((err: NodeJS.ErrnoException) => {
              if (err.code !== 'ENOENT') throw new CommandError(`cannot remove the sketch file: ${err.message}`);
            });
            await this.table?.remove(id);
          });
          this.sketches.delete(id);
          this.changed();
          break;
      }
      return `successfully performed ${action} on sketch ${id}`;
    });
  }

  // ---- internals -----------------------------------------------------------------------------

  private newSketch(id: string, name: string): Sketch {
    return { id, name, desired: 'STOPPED', state: 'STOPPED', stopRequested: false, startedAt: 0 };
  }

  /**
   * Moves a verified (or dropped) file into place as sketch `id`, then stops the previous process
   * of that id and starts the new one. Runs under the sketch's lock.
   */
  private async install(id: string, name: string, file: string): Promise<number> {
    const previous = this.sketches.get(id);
    try {
      await chmod(file, 0o700);
      // Linux lets a running program's file be replaced (it keeps the old one open), so the
      // previous sketch is only stopped once the new file is in place.
      await rename(file, sketchFilePath(this.sketchesDir, name));
    } catch (err) {
      throw new CommandError(`installing the sketch failed: ${errorMessage(err)}`);
    }
    if (previous) await this.stopProcess(previous);
    if (previous && previous.name !== name) {
      await unlink(sketchFilePath(this.sketchesDir, previous.name)).catch(() => {});
    }
    const sketch = previous ?? this.newSketch(id, name);
    sketch.name = name;
    sketch.lastExit = undefined;
    this.sketches.set(id, sketch);
    await this.remember(sketch, 'RUNNING');
    return this.spawn(sketch);
  }

  /** Two ids cannot share one file. */
  private refuseNameClash(id: string, name: string): void {
    for (const other of this.sketches.values()) {
      if (other.id !== id && other.name === name) throw new CommandError(`sketch name ${name} is already used by sketch ${other.id}`);
    }
    const installer = this.reservedNames.get(name);
    if (installer !== undefined && installer !== id) throw new CommandError(`sketch name ${name} is being installed by sketch ${installer}`);
  }

  /**
   * Claims `name` for `id` until the returned release is called; synchronous, so a clash is
   * caught before either upload awaits anything. The same id may claim it again (a repeated
   * upload waits for the first on the sketch's lock).
   */
  private reserveName(id: string, name: string): () => void {
    this.refuseNameClash(id, name);
    const claims = this.nameClaims.get(name) ?? 0;
    this.reservedNames.set(name, id);
    this.nameClaims.set(name, claims + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.nameClaims.get(name) ?? 1) - 1;
      if (left > 0) {
        this.nameClaims.set(name, left);
      } else {
        this.nameClaims.delete(name);
        this.reservedNames.delete(name);
      }
    };
  }

  private refuseWhileStopping(): void {
    if (this.stopping) throw new CommandError('the agent is shutting down');
  }

  /** Runs a write to disk with the file system writable (-check_ro_fs). */
  private writing<T>(work: () => Promise<T>): Promise<T> {
    return this.options.writable ? this.options.writable.around(work) : work();
  }

  /** Runs `work` after every earlier command on the same sketch id finished. */
  private exclusive<T>(id: string, work: () => Promise<T>): Promise<T> {
    const before = this.locks.get(id) ?? Promise.resolve();
    const guarded = async () => {
      // Queued before a shutdown began; stop() waits for it, so it must not start anything.
      this.refuseWhileStopping();
      return work();
    };
    const result = before.then(guarded, guarded);
    const tail = result.catch(() => {});
    this.locks.set(id, tail);
    void tail.then(() => {
      if (this.locks.get(id) === tail) this.locks.delete(id);
    });
    return result;
  }

  private async remember(sketch: Sketch, desired: DesiredState): Promise<void> {
    sketch.desired = desired;
    try {
      await this.writing(() => this.table!.put({ id: sketch.id, name: sketch.name, desired }));
    } catch (err) {
      throw new CommandError(`the sketch table could not be saved: ${errorMessage(err)}`);
    }
  }

  private async spawn(sketch: Sketch): Promise<number> {
    // Checked again after the await below: a shutdown may have begun meanwhile.
    this.refuseWhileStopping();
    const file = sketchFilePath(this.sketchesDir, sketch.name);
    try {
      await access(file, fsConstants.X_OK);
    } catch {
      throw new CommandError(`the file of sketch ${sketch.id} (${sketch.name}) is missing or not executable`);
    }
    this.refuseWhileStopping();
    const { bus, base, log } = this.context;
    let child: SketchProcess;
    try {
      child = SketchProcess.start({
        file,
        cwd: this.sketchesDir,
        env: this.environment,
        stopGraceMs: this.options.stopGraceMs,
        pauseGraceMs: this.options.pauseGraceMs,
        killWaitMs: this.options.killWaitMs,
      });
    } catch (err) {
      throw new CommandError(`sketch ${sketch.id} could not be started: ${errorMessage(err)}`);
    }
    const output = new SketchOutput({
      ...this.options.output,
      bus,
      topics: [topics.stdout(base), topics.sketchStdout(base, sketch.id)],
      limiter: this.limiter,
      flow: child,
      log: log.child(sketch.id),
      onMissingLibrary: (library) => this.reportMissingLibrary(sketch, library),
    });
    child.onOutput((chunk) => output.push(chunk));
    this.outputs.add(output);
    Object.assign(sketch, { process: child, output, state: 'RUNNING', lastExit: undefined, stopRequested: false, startedAt: ++this.startCounter });
    void child.exited.then((exit) => this.ended(sketch, child, output, exit));
    log.info(`sketch ${sketch.id} (${sketch.name}) started, pid ${child.pid}`);
    this.changed();
    return child.pid;
  }

  private ended(sketch: Sketch, child: SketchProcess, output: SketchOutput, exit: SketchExit): void {
    const drained = output.drain();
    this.draining.add(drained);
    void drained.then(() => {
      this.draining.delete(drained);
      this.outputs.delete(output);
    });
    if (sketch.process !== child) return;
    sketch.process = undefined;
    sketch.output = undefined;
    sketch.state = 'STOPPED';
    if (!sketch.stopRequested) {
      sketch.lastExit = exit;
      this.context.log.info(`sketch ${sketch.id} ended by itself (exit code ${exit.exit_code}, signal ${exit.signal})`);
    }
    this.changed();
  }

  /** Ends the sketch's process, if any; its desired state is the caller's business. */
  private async stopProcess(sketch: Sketch): Promise<void> {
    const child = sketch.process;
    if (!child) return;
    sketch.stopRequested = true;
    try {
      await child.stop();
    } catch (err) {
      if (!(err instanceof SketchStopError)) throw err;
      // Its state stays what it was: the process is still there, and STOP may be tried again.
      this.context.log.error(`sketch ${sketch.id}: ${err.message}`);
      throw new CommandError(`sketch ${sketch.id} could not be stopped: ${err.message}`);
    }
    // ended() ran when the exit was reported; this covers a sketch replaced meanwhile.
    if (sketch.process === child) {
      sketch.process = undefined;
      sketch.output = undefined;
      sketch.state = 'STOPPED';
      this.changed();
    }
  }

  private mostRecentlyStarted(): Sketch | undefined {
    let best: Sketch | undefined;
    for (const s of this.sketches.values()) {
      if (s.process && (!best || s.startedAt > best.startedAt)) best = s;
    }
    return best;
  }

  private input(sketch: Sketch | undefined, payload: Buffer): void {
    if (!sketch?.process || !sketch.process.write(payload)) {
      this.context.log.debug(`stdin of ${payload.length} bytes dropped: no such running sketch`);
    }
  }

  private reportMissingLibrary(sketch: Sketch, library: string): void {
    const { bus, base, log } = this.context;
    const message = `sketch ${sketch.id} (${sketch.name}) cannot start: missing shared library ${library} (error while loading shared libraries)`;
    log.warn(message);
    bus.publish(topics.answer(base, 'upload'), formatError(message)).catch((err) => log.warn(`missing-library error not published: ${errorMessage(err)}`));
  }

  /** Files in the folder that the table does not know are listed under their file name, as the original did. */
  private async listUntrackedFiles(): Promise<void> {
    const known = new Set([...this.sketches.values()].map((s) => s.name));
    for (const entry of await readdir(this.sketchesDir, { withFileTypes: true })) {
      if (!entry.isFile()) continue;
      if (entry.name.startsWith('.')) {
        // A drop that a crash interrupted.
        if (/^\.drop-[0-9a-f]+\.tmp$/.test(entry.name)) await this.writing(() => unlink(join(this.sketchesDir, entry.name))).catch(() => {});
        continue;
      }
      if (known.has(entry.name) || this.sketches.has(entry.name)) continue;
      // Its name could not be an id (it would be a wildcard in B/sketches/<id>/stdout).
      if (!isFileName(entry.name)) {
        this.context.log.warn(`file ${JSON.stringify(entry.name)} in the sketches folder is not listed: not a valid sketch id`);
        continue;
      }
      this.sketches.set(entry.name, this.newSketch(entry.name, entry.name));
    }
  }

  /**
   * A file from the drop folder becomes the sketch sketchLoadedThroughUSB, replacing the previous
   * one. Like the original's USB path it carries no signature: putting a file there takes local
   * root access, and DropFolder refuses a folder that anyone else could write to.
   */
  private async installDropped(path: string): Promise<void> {
    const { log } = this.context;
    this.refuseWhileStopping();
    const release = this.reserveName(droppedSketchId, droppedSketchId);
    try {
      await this.writing(() => this.exclusive(droppedSketchId, async () => {
        this.refuseNameClash(droppedSketchId, droppedSketchId);
        const temp = join(this.sketchesDir, `.drop-${randomBytes(8).toString('hex')}.tmp`);
        try {
          await rename(path, temp);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
          // Another file system (a USB stick): copied as a stream, then removed from the drop folder.
          try {
            await pipeline(createReadStream(path), createWriteStream(temp, { flags: 'wx', mode: 0o700 }));
          } catch (copyErr) {
            await unlink(temp).catch(() => {});
            throw copyErr;
          }
          await unlink(path);
        }
        try {
          const pid = await this.install(droppedSketchId, droppedSketchId, temp);
          log.info(`dropped file installed as ${droppedSketchId}, pid ${pid}`);
        } finally {
          // Gone already once installed.
          await unlink(temp).catch(() => {});
        }
      }));
    } finally {
      release();
    }
  }
}
