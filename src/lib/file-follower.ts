// Follows a file the way `tail -F` does, line by line: waits for it to appear, reads what is
// appended, starts again from the top when it is truncated, and when it is replaced at its path
// (rotation) reads the old one to its end before following the new one.
//
// It streams: at most one chunk and one line are held, and the next chunk is read only once the
// consumer has taken the line before it, so a slow consumer (a broker that is away) leaves the
// rest of the file where it is, on disk, and nothing is lost or read twice.
//
// A watch on the file's folder (inotify) wakes it at once; a slow poll is the safety net for what a
// watch misses: every 5 s beside a watch (appends to a renamed file, a folder that was replaced,
// network file systems), every second without one (a folder that does not exist yet, no inotify
// watch to spare). Each look is two system calls (stat the path, read 16 bytes).

import { watch, type FSWatcher } from 'node:fs';
import { constants, open, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';

export type FollowerEvent =
  /** The file cannot be read (yet): absent, not a regular file, no permission. Told once per reason. */
  | { kind: 'waiting'; reason: string }
  | { kind: 'following' }
  /** The file is shorter than what was read, or its content was rewritten: read from its start. */
  | { kind: 'truncated'; droppedPartialBytes: number }
  /** Another file is at the path now; the old one was read to its end. */
  | { kind: 'rotated' }
  | { kind: 'error'; message: string };

export interface FileFollowerOptions {
  path: string;
  /** Each complete line, without its line break (`\n` or `\r\n`). The follower reads no further
   * until the promise settles; a rejection is reported as an error event and the line skipped. */
  onLine: (line: Buffer, cutBytes: number) => Promise<void>;
  onEvent?: (event: FollowerEvent) => void;
  /** Longer lines are cut to this many bytes; what is cut is counted in `cutBytes`. */
  maxLineBytes?: number;
  /** How often it looks without a watch on the folder (default 1 s)... */
  pollIntervalMs?: number;
  /** ...and with one, for what the watch misses (default 5 s). */
  watchedPollIntervalMs?: number;
  chunkBytes?: number;
}

/** How many bytes before the read position are read again with each chunk: if they differ from
 * what was read there before, the file was truncated and rewritten (past the old length, too
 * fast for a size check to notice), and the follower starts again from the top. */
const overlapBytes = 16;

interface OpenFile {
  handle: FileHandle;
  dev: bigint;
  ino: bigint;
}

function errorCode(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));
}

export class FileFollower {
  private readonly maxLineBytes: number;
  private readonly chunk: Buffer;
  private file: OpenFile | undefined;
  private position = 0;
  /** The bytes just before `position`, as read. */
  private before = Buffer.alloc(0);
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private cutBytes = 0;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  private waitingReason: string | undefined;
  /** The file's folder was missing when a watch on it was last tried: no file to open either. */
  private folderMissing = false;

  private readonly path: string;

  constructor(private readonly options: FileFollowerOptions) {
    this.path = resolve(options.path);
    this.maxLineBytes = options.maxLineBytes ?? 16 * 1024;
    this.chunk = Buffer.alloc(overlapBytes + (options.chunkBytes ?? 64 * 1024));
  }

  /** How far into the current file it has read (0 while there is none). */
  get offset(): number {
    return this.position;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.watchFolder();
    this.schedulePoll();
    this.wake();
  }

  private schedulePoll(): void {
    const interval = this.watcher ? (this.options.watchedPollIntervalMs ?? 5000) : (this.options.pollIntervalMs ?? 1000);
    this.timer = setTimeout(() => {
      if (this.stopped) return;
      if (!this.watcher) this.watchFolder();
      this.wake();
      this.schedulePoll();
    }, interval);
    this.timer.unref();
  }

  /** Stops following; resolves once the file is closed. A line being consumed is waited for. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.watcher?.close();
    this.watcher = undefined;
    await this.running;
    await this.closeFile();
  }

  /** Looks at the file now (the watch and the poll call this). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.check();
        } catch (err) {
          // An unreadable file (EIO, a file system gone): opened again on the next wake.
          this.event({ kind: 'error', message: `${this.path}: ${err instanceof Error ? err.message : String(err)}` });
          await this.closeFile();
        }
      } while (this.again && !this.stopped);
    })().finally(() => (this.running = undefined));
  }

  private watchFolder(): void {
    const name = basename(this.path);
    this.folderMissing = false;
    try {
      // persistent: false, so a watch never keeps the process alive on its own.
      const watcher = watch(dirname(this.path), { persistent: false }, (_event, filename) => {
        if (filename === null || filename === name) this.wake();
      });
      watcher.on('error', () => {
        watcher.close();
        if (this.watcher === watcher) this.watcher = undefined;
      });
      this.watcher = watcher;
    } catch (err) {
      // No folder yet, or no inotify watch to spare: the poll tries again.
      this.watcher = undefined;
      this.folderMissing = errorCode(err) === 'ENOENT';
    }
  }

  private async check(): Promise<void> {
    if (!this.file) {
      if (this.folderMissing) {
        this.waiting('its folder does not exist');
        return;
      }
      this.file = await this.openFile();
      if (!this.file) return;
      this.event({ kind: 'following' });
    }
    const current = this.file;
    const replaced = await this.replacedAtPath(current);
    await this.readToEnd(current);
    if (!replaced || this.stopped) return;
    // The old file is finished: its last line counts even without a line break, since nothing
    // more will be written to it at this path.
    if (this.pendingBytes > 0 || this.cutBytes > 0) await this.emitLine();
    await this.closeFile();
    this.event({ kind: 'rotated' });
    this.again = true;
  }

  /** True when the path names another file than the open one (a missing path is not: the writer
   * may still append to the renamed file until the new one is there). */
  private async replacedAtPath(file: OpenFile): Promise<boolean> {
    try {
      const now = await stat(this.path, { bigint: true });
      return now.isFile() && (now.ino !== file.ino || now.dev !== file.dev);
    } catch {
      return false;
    }
  }

  private async openFile(): Promise<OpenFile | undefined> {
    let handle: FileHandle;
    try {
      // O_NONBLOCK: a FIFO at the path must not hold a thread until a writer comes.
      handle = await open(this.path, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (err) {
      this.waiting(errorCode(err) === 'ENOENT' ? 'it does not exist' : errorCode(err));
      return undefined;
    }
    const info = await handle.stat({ bigint: true }).catch(async (err: unknown) => {
      await handle.close();
      throw err;
    });
    if (!info.isFile()) {
      await handle.close();
      this.waiting('it is not a regular file');
      return undefined;
    }
    this.waitingReason = undefined;
    this.resetPosition();
    return { handle, dev: info.dev, ino: info.ino };
  }

  private waiting(reason: string): void {
    if (this.waitingReason === reason) return;
    this.waitingReason = reason;
    this.event({ kind: 'waiting', reason });
  }

  private async closeFile(): Promise<void> {
    const file = this.file;
    this.file = undefined;
    this.resetPosition();
    await file?.handle.close().catch(() => {});
  }

  private resetPosition(): void {
    this.position = 0;
    this.before = Buffer.alloc(0);
    this.pending = [];
    this.pendingBytes = 0;
    this.cutBytes = 0;
  }

  private async readToEnd(file: OpenFile): Promise<void> {
    while (!this.stopped && this.file === file) {
      const overlap = this.before.length;
      const { bytesRead } = await file.handle.read(this.chunk, 0, this.chunk.length, this.position - overlap);
      if (bytesRead < overlap || !this.chunk.subarray(0, overlap).equals(this.before)) {
        const droppedPartialBytes = this.pendingBytes + this.cutBytes;
        this.resetPosition();
        this.event({ kind: 'truncated', droppedPartialBytes });
        continue;
      }
      if (bytesRead === overlap) return;
      this.position += bytesRead - overlap;
      const tail = Math.min(overlapBytes, this.position);
      this.before = Buffer.from(this.chunk.subarray(bytesRead - tail, bytesRead));
      await this.split(this.chunk.subarray(overlap, bytesRead));
    }
  }

  private async split(data: Buffer): Promise<void> {
    let start = 0;
    while (!this.stopped) {
      const end = data.indexOf(0x0a, start);
      if (end === -1) {
        this.keep(data.subarray(start));
        return;
      }
      this.keep(data.subarray(start, end));
      await this.emitLine();
      start = end + 1;
    }
  }

  /** Adds to the line being read, up to the cap; the chunk is reused, so the bytes are copied. */
  private keep(part: Buffer): void {
    if (part.length === 0) return;
    const room = this.maxLineBytes - this.pendingBytes;
    const kept = part.length <= room ? part : part.subarray(0, Math.max(0, room));
    if (kept.length > 0) {
      this.pending.push(Buffer.from(kept));
      this.pendingBytes += kept.length;
    }
    this.cutBytes += part.length - kept.length;
  }

  private async emitLine(): Promise<void> {
    let line = this.pending.length === 1 ? (this.pending[0] as Buffer) : Buffer.concat(this.pending, this.pendingBytes);
    const cutBytes = this.cutBytes;
    this.pending = [];
    this.pendingBytes = 0;
    this.cutBytes = 0;
    if (cutBytes === 0 && line.at(-1) === 0x0d) line = line.subarray(0, -1);
    try {
      await this.options.onLine(line, cutBytes);
    } catch (err) {
      this.event({ kind: 'error', message: `a line of ${this.path} was not taken: ${err instanceof Error ? err.message : String(err)}` });
    }
  }

  private event(event: FollowerEvent): void {
    this.options.onEvent?.(event);
  }
}
