// upload and sketch: signed programs downloaded, installed and supervised in pseudo-terminals
// (src/sketches/), with their input from B/stdin and B/sketches/<id>/stdin.

import { join } from 'node:path';
import { sketchOfStdinTopic, topics, type AnswerOf, type RequestOf } from '../api.js';
import { Feature, type CommandTable } from '../feature.js';
import { errorMessage } from '../log.js';
import type { MessageBus } from '../mqtt/message-bus.js';
import { DropFolder } from '../sketches/drop-folder.js';
import { sketchEnvironment, type EnvironmentSettings } from '../sketches/environment.js';
import { SketchInstaller } from '../sketches/installer.js';
import { SketchLauncher, type SketchOutputSettings } from '../sketches/launcher.js';
import { SketchRegistry } from '../sketches/registry.js';
import type { SketchStatusSource } from '../sketches/status-source.js';
import type { SketchSupervisor } from '../sketches/supervisor.js';

/** B/<command>/post → the method of SketchesFeature that answers it. */
export const sketchCommands = {
  upload: 'upload',
  sketch: 'sketch',
} as const satisfies CommandTable<'sketches', SketchesFeature>;

export interface SketchesOptions {
  /** sketches_path: holds sketches/ (0700) and the sketch table sketches.json. */
  dataDir: string;
  /** The public key that signs sketches (PEM or a path); empty: no upload is ever accepted. */
  signatureKey: string;
  /** Largest sketch download accepted, in bytes. */
  maxSketchBytes: number;
  /** A file dropped here is installed and started as sketchLoadedThroughUSB. */
  dropFolder: string;
  /** Proxies and env_vars_to_load for the sketches' environment. */
  environment: EnvironmentSettings;
  /** The environment sketches inherit (default process.env). */
  inheritedEnvironment?: NodeJS.ProcessEnv;
  /** STOP waits this long after SIGTERM before SIGKILL (default 3 s). */
  stopGraceMs?: number;
  /** PAUSE lets a sketch that handles SIGTSTP this long to stop itself (default 300 ms). */
  pauseGraceMs?: number;
  /** STOP gives up on a process still there this long after SIGKILL (default 10 s). */
  killWaitMs?: number;
  /** A dropped file must stay unchanged this long before it is installed (default 2 s). */
  dropSettleMs?: number;
  /** Connect and idle time-out of sketch downloads (default 30 s). */
  downloadTimeoutMs?: number;
  /** Limit on a whole sketch download, signature included (default 10 minutes). */
  downloadDeadlineMs?: number;
  /** Where sketch output goes: the agent's outbox, so nothing is lost offline (default: the bus). */
  outputBus?: Pick<MessageBus, 'publish'>;
  /** Coalescing and pacing of sketch output (sketch_output_rate is bytesPerSecond). */
  output?: SketchOutputSettings;
}

export class SketchesFeature extends Feature<SketchesOptions> {
  readonly name = 'sketches';
  readonly sketchesDir = join(this.options.dataDir, 'sketches');
  readonly tableFile = join(this.options.dataDir, 'sketches.json');
  private readonly launcher = new SketchLauncher({
    bus: this.deps.bus,
    base: this.deps.base,
    log: this.deps.log,
    sketchesDir: this.sketchesDir,
    environment: sketchEnvironment({ settings: this.options.environment, sketchesDir: this.sketchesDir, base: this.options.inheritedEnvironment }),
    outputBus: this.options.outputBus,
    stopGraceMs: this.options.stopGraceMs,
    pauseGraceMs: this.options.pauseGraceMs,
    killWaitMs: this.options.killWaitMs,
    output: this.options.output,
  });
  private readonly registry = new SketchRegistry({
    sketchesDir: this.sketchesDir,
    tableFile: this.tableFile,
    writable: this.deps.writable,
    launcher: this.launcher,
    log: this.deps.log,
  });
  private readonly installer = new SketchInstaller({
    registry: this.registry,
    sketchesDir: this.sketchesDir,
    signatureKey: this.options.signatureKey,
    maxBytes: this.options.maxSketchBytes,
    downloadTimeoutMs: this.options.downloadTimeoutMs,
    downloadDeadlineMs: this.options.downloadDeadlineMs,
    log: this.deps.log,
  });
  private readonly dropFolder = new DropFolder({
    folder: this.options.dropFolder,
    settleMs: this.options.dropSettleMs,
    log: this.deps.log.child('drop-folder'),
    onFile: (path) => this.installer.installDropped(path),
  });
  private readonly stdinTopic = topics.stdin(this.deps.base);
  private readonly sketchStdinFilter = topics.sketchStdin(this.deps.base, '+');

  /** The sketch table and word of its changes, for status. */
  get status(): SketchStatusSource {
    return this.registry;
  }

  // ---- commands ------------------------------------------------------------------------------

  async upload(request: RequestOf<'upload'>): Promise<AnswerOf<'upload'>> {
    const pid = await this.installer.upload(request);
    return `Sketch started with PID ${pid}`;
  }

  async sketch(request: RequestOf<'sketch'>): Promise<AnswerOf<'sketch'>> {
    await this.registry.perform(request.id, request.action);
    return `successfully performed ${request.action} on sketch ${request.id}`;
  }

  // ---- life ----------------------------------------------------------------------------------

  override async start(): Promise<void> {
    const { bus, base, log } = this.deps;
    // The only step that can fail (the folder cannot be made, the table cannot be read) comes
    // first, so a failed start leaves nothing behind and can simply be tried again.
    await this.registry.open();
    await bus.subscribe(this.stdinTopic, (_topic, payload) => this.input(this.registry.mostRecentlyStarted(), payload));
    await bus.subscribe(this.sketchStdinFilter, (topic, payload) => {
      const id = sketchOfStdinTopic(base, topic);
      this.input(id === undefined ? undefined : this.registry.get(id), payload);
    });
    await this.registry.restore();
    try {
      await this.dropFolder.start();
    } catch (err) {
      // Uploads and everything else still work without it.
      log.error(`drop folder ${this.options.dropFolder} unavailable: ${errorMessage(err)}`);
    }
  }

  override async stop(): Promise<void> {
    // From here no command starts a process and queued ones are refused, so once the running ones
    // are done nothing can start behind the registry's close.
    this.installer.close();
    await this.dropFolder.stop().catch(() => {});
    const { bus } = this.deps;
    await bus.unsubscribe(this.stdinTopic).catch(() => {});
    await bus.unsubscribe(this.sketchStdinFilter).catch(() => {});
    await this.registry.close();
    await this.launcher.close();
  }

  private input(sketch: SketchSupervisor | undefined, payload: Buffer): void {
    if (!sketch?.process || !sketch.process.write(payload)) {
      this.deps.log.debug(`stdin of ${payload.length} bytes dropped: no such running sketch`);
    }
  }
}
