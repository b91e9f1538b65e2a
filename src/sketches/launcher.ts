// Starts a sketch's file in a pseudo-terminal with its output on its way to MQTT, and keeps every
// output until its last bytes are published, also after the sketch ended, so a shutdown can wait
// for them.

import { formatError, topics } from '../api.js';
import { RefusedError, UnavailableError } from '../errors.js';
import { errorMessage, type Logger } from '../log.js';
import type { MessageBus } from '../mqtt/message-bus.js';
import { SketchOutput, type SketchOutputOptions } from './output.js';

export type SketchOutputSettings = Pick<SketchOutputOptions, 'maxMessageBytes' | 'flushDelayMs' | 'highWaterBytes' | 'maxInFlight' | 'messagesPerSecond' | 'bytesPerSecond'>;
import { SketchProcess } from './process.js';

export interface LauncherOptions {
  bus: MessageBus;
  base: string;
  log: Logger;
  sketchesDir: string;
  environment: Record<string, string>;
  /** Where sketch output goes: the outbox (default: bus). */
  outputBus?: Pick<MessageBus, 'publish'>;
  stopGraceMs?: number;
  pauseGraceMs?: number;
  killWaitMs?: number;
  output?: SketchOutputSettings;
}

export interface Launched {
  process: SketchProcess;
  output: SketchOutput;
}

export class SketchLauncher {
  private readonly outputs = new Set<SketchOutput>();
  private readonly draining = new Set<Promise<void>>();
  private closed = false;

  constructor(private readonly options: LauncherOptions) {}

  /** Starts `file` as sketch `id` (named `name` in messages). */
  launch(id: string, name: string, file: string): Launched {
    if (this.closed) throw new RefusedError('the agent is shutting down');
    const { bus, base, log } = this.options;
    let child: SketchProcess;
    try {
      child = SketchProcess.start({
        file,
        cwd: this.options.sketchesDir,
        env: this.options.environment,
        stopGraceMs: this.options.stopGraceMs,
        pauseGraceMs: this.options.pauseGraceMs,
        killWaitMs: this.options.killWaitMs,
      });
    } catch (err) {
      throw new UnavailableError(`sketch ${id} could not be started: ${errorMessage(err)}`);
    }
    const output = new SketchOutput({
      ...this.options.output,
      bus: this.options.outputBus ?? bus,
      topics: [topics.stdout(base), topics.sketchStdout(base, id)],
      flow: child,
      log: log.child(id),
      onMissingLibrary: (library) => this.reportMissingLibrary(id, name, library),
    });
    child.onOutput((chunk) => output.push(chunk));
    this.outputs.add(output);
    void child.exited.then(() => {
      const drained = output.drain();
      this.draining.add(drained);
      void drained.then(() => {
        this.draining.delete(drained);
        this.outputs.delete(output);
      });
    });
    return { process: child, output };
  }

  /** Refuses new launches, ends the pacing of every output, and waits a little for
   * output already on its way. */
  async close(): Promise<void> {
    this.closed = true;
    for (const output of this.outputs) output.close();
    await Promise.race([Promise.all(this.draining), new Promise((r) => setTimeout(r, 2000).unref())]);
  }

  /** The loader's complaint reaches the one who uploaded, on the upload answer topic (as the Go
   * agent did), since the upload itself was already answered. */
  private reportMissingLibrary(id: string, name: string, library: string): void {
    const { bus, base, log } = this.options;
    const message = `sketch ${id} (${name}) cannot start: missing shared library ${library} (error while loading shared libraries)`;
    log.warn(message);
    bus.publish(topics.answer(base, 'upload'), formatError(message)).catch((err) => log.warn(`missing-library error not published: ${errorMessage(err)}`));
  }
}
