// How a sketch gets onto the device: an upload is downloaded and its signature verified while it
// streams, a file from the drop folder is moved in, and either is installed as one step (moved into
// place, the previous process of that id stopped, the wish to run it saved, started).

import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ConflictError, FailedError, RefusedError } from '../errors.js';
import { errorMessage, type Logger } from '../log.js';
import { downloadVerified } from './download.js';
import { NameReservations } from './name-reservations.js';
import { checkFileName, sketchFilePath } from './names.js';
import { droppedSketchId, type SketchRegistry } from './registry.js';
import { loadSignatureKey } from './signature.js';
import type { SketchSupervisor } from './supervisor.js';

export interface InstallerOptions {
  registry: SketchRegistry;
  sketchesDir: string;
  /** The public key that signs sketches (PEM or a path); empty: no upload is ever accepted. */
  signatureKey: string;
  /** Largest download accepted, in bytes. */
  maxBytes: number;
  /** Connect and idle time-out of downloads (default 30 s). */
  downloadTimeoutMs?: number;
  /** Limit on a whole download, signature included (default 10 minutes). */
  downloadDeadlineMs?: number;
  log: Logger;
}

export interface Upload {
  id: string;
  name: string;
  url: string;
  token?: string;
}

export class SketchInstaller {
  private readonly reservations = new NameReservations();
  private readonly abort = new AbortController();

  constructor(private readonly options: InstallerOptions) {}

  /** Downloads, verifies, installs and starts an upload; returns its pid. */
  async upload(upload: Upload): Promise<number> {
    const { registry, sketchesDir, log } = this.options;
    let publicKey;
    try {
      publicKey = await loadSignatureKey(this.options.signatureKey);
    } catch (err) {
      throw new RefusedError(`upload refused, no sketch can be verified: ${errorMessage(err)}`);
    }
    checkFileName(upload.id, 'sketch id');
    // Refuses a name that could leave the folder before anything is downloaded.
    sketchFilePath(sketchesDir, upload.name);
    this.refuseWhileClosed();
    const release = this.reserve(upload.id, upload.name);
    try {
      // Outside the sketch's lock, so a slow server does not hold up STOP or DELETE of it; the
      // temp file is written in the sketches folder, so that must be writable meanwhile.
      return await registry.writing(async () => {
        const download = await downloadVerified({
          url: upload.url,
          token: upload.token,
          folder: sketchesDir,
          maxBytes: this.options.maxBytes,
          publicKey,
          timeoutMs: this.options.downloadTimeoutMs,
          deadlineMs: this.options.downloadDeadlineMs ?? 10 * 60_000,
          signal: this.abort.signal,
        });
        log.info(`sketch ${upload.id} (${upload.name}): ${download.bytes} bytes downloaded and verified`);
        try {
          return await registry.exclusive(upload.id, (current) => this.install(upload.id, upload.name, download.tempPath, current));
        } finally {
          // Gone already once installed; still there when anything before failed.
          await unlink(download.tempPath).catch(() => {});
        }
      });
    } finally {
      release();
    }
  }

  /**
   * A file from the drop folder becomes the sketch sketchLoadedThroughUSB, replacing the previous
   * one. Like the original's USB path it carries no signature: putting a file there takes local
   * root access, and DropFolder refuses a folder that anyone else could write to.
   */
  async installDropped(path: string): Promise<void> {
    const { registry, sketchesDir, log } = this.options;
    this.refuseWhileClosed();
    const release = this.reserve(droppedSketchId, droppedSketchId);
    try {
      await registry.exclusive(droppedSketchId, async (current) => {
        const temp = join(sketchesDir, `.drop-${randomBytes(8).toString('hex')}.tmp`);
        await moveInto(path, temp);
        try {
          const pid = await this.install(droppedSketchId, droppedSketchId, temp, current);
          log.info(`dropped file installed as ${droppedSketchId}, pid ${pid}`);
        } finally {
          // Gone already once installed.
          await unlink(temp).catch(() => {});
        }
      });
    } finally {
      release();
    }
  }

  /** Ends downloads under way; later uploads are refused. */
  close(): void {
    this.abort.abort();
  }

  /**
   * Moves a verified (or dropped) file into place as sketch `id`, then stops the previous process
   * of that id and starts the new one. Runs under the sketch's lock.
   */
  private async install(id: string, name: string, file: string, previous: SketchSupervisor | undefined): Promise<number> {
    const { registry } = this.options;
    this.refuseNameClash(id, name);
    try {
      await chmod(file, 0o700);
      // Linux lets a running program's file be replaced (it keeps the old one open), so the
      // previous sketch is only stopped once the new file is in place.
      await rename(file, registry.fileOf(name));
    } catch (err) {
      throw new FailedError(`installing the sketch failed: ${errorMessage(err)}`, { cause: err });
    }
    if (previous) {
      await previous.stopProcess();
      if (previous.name !== name) await unlink(registry.fileOf(previous.name)).catch(() => {});
    }
    const sketch = previous ?? registry.adopt(id, name);
    sketch.replaceFile(name);
    await sketch.remember('RUNNING');
    return sketch.spawn();
  }

  /** Two ids cannot share one file. */
  private refuseNameClash(id: string, name: string): void {
    const owner = this.options.registry.otherOwnerOf(name, id);
    if (owner !== undefined) throw new ConflictError(`sketch name ${name} is already used by sketch ${owner}`);
    const installer = this.reservations.claimantOtherThan(name, id);
    if (installer !== undefined) throw new ConflictError(`sketch name ${name} is being installed by sketch ${installer}`);
  }

  /** Claims the name synchronously, so a clash is caught before either upload awaits anything. */
  private reserve(id: string, name: string): () => void {
    this.refuseNameClash(id, name);
    return this.reservations.claim(name, id);
  }

  private refuseWhileClosed(): void {
    if (this.abort.signal.aborted) throw new RefusedError('the agent is shutting down');
  }
}

/** Moves a file in, copying it as a stream when it is on another file system (a USB stick). */
async function moveInto(path: string, target: string): Promise<void> {
  try {
    await rename(path, target);
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
  }
  try {
    await pipeline(createReadStream(path), createWriteStream(target, { flags: 'wx', mode: 0o700 }));
  } catch (copyErr) {
    await unlink(target).catch(() => {});
    throw copyErr;
  }
  await unlink(path);
}
