// A sketch can arrive without the cloud: a file copied into the drop folder (say from a USB stick)
// is handed over once it stopped changing, so a copy in progress is never installed half-way.
// inotify (fs.watch) makes this prompt; a periodic rescan catches anything it missed.

import { watch, type FSWatcher } from 'node:fs';
import { lstat, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage, type Logger } from '../log.js';

export interface DropFolderOptions {
  folder: string;
  /** How long a file must stay unchanged (size, mtime, inode) before it is handed over. */
  settleMs?: number;
  /** How often the folder is listed in case inotify missed something (a full event queue, a
   * file system without events): by default every 30 s while inotify watches, and every settle
   * period when it cannot. */
  rescanMs?: number;
  log: Logger;
  /** Called once per settled file, one at a time; expected to move the file away. */
  onFile: (path: string) => Promise<void>;
}

export const defaultSettleMs = 2_000;
const defaultRescanMs = 30_000;

interface Pending {
  fingerprint: string;
  timer: NodeJS.Timeout;
}

export class DropFolder {
  private readonly folder: string;
  private readonly settleMs: number;
  private readonly rescanMs: number | undefined;
  private readonly log: Logger;
  private readonly onFile: (path: string) => Promise<void>;
  private watcher: FSWatcher | undefined;
  private rescan: NodeJS.Timeout | undefined;
  private running = false;
  private readonly pending = new Map<string, Pending>();
  /** Fingerprint of each file already handed over, so one that stays is not handed over again. */
  private readonly delivered = new Map<string, string>();
  private deliveries: Promise<void> = Promise.resolve();

  constructor(options: DropFolderOptions) {
    this.folder = options.folder;
    this.settleMs = options.settleMs ?? defaultSettleMs;
    this.rescanMs = options.rescanMs;
    this.log = options.log;
    this.onFile = options.onFile;
  }

  /** Creates the folder if missing; handles files already there. */
  async start(): Promise<void> {
    if (this.running) return;
    await mkdir(this.folder, { recursive: true, mode: 0o700 });
    const problem = await this.unsafeFolder();
    if (problem) {
      // Whoever can write here could have any program run by this agent: refuse, but only this part.
      this.log.error(`drop folder ${this.folder} is not watched: ${problem}`);
      return;
    }
    this.running = true;
    try {
      this.watcher = watch(this.folder, { persistent: false }, (_event, name) => {
        if (name) this.observe(name.toString());
      });
      this.watcher.on('error', (err) => {
        this.log.warn(`watching ${this.folder} failed (${errorMessage(err)}); relying on rescans`);
        this.scheduleRescans(false);
      });
    } catch (err) {
      this.log.warn(`cannot watch ${this.folder} (${errorMessage(err)}); relying on rescans`);
    }
    this.scheduleRescans(this.watcher !== undefined);
    await this.scan();
  }

  /** An idle device should not wake every few seconds to list a folder inotify already watches. */
  private scheduleRescans(watching: boolean): void {
    if (this.rescan) clearInterval(this.rescan);
    this.rescan = undefined;
    if (!this.running) return;
    const everyMs = this.rescanMs ?? (watching ? defaultRescanMs : this.settleMs);
    this.rescan = setInterval(() => void this.scan(), Math.max(everyMs, 250));
    this.rescan.unref();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.watcher?.close();
    this.watcher = undefined;
    if (this.rescan) clearInterval(this.rescan);
    this.rescan = undefined;
    for (const { timer } of this.pending.values()) clearTimeout(timer);
    this.pending.clear();
    // A hand-over in progress finishes before stop() resolves.
    await this.deliveries;
  }

  /** Why the folder must not be trusted, or undefined when only this user can put files in it. */
  private async unsafeFolder(): Promise<string | undefined> {
    const info = await lstat(this.folder);
    if (info.isSymbolicLink()) return 'it is a symbolic link';
    if (!info.isDirectory()) return 'it is not a folder';
    const uid = process.getuid?.();
    if (uid !== undefined && info.uid !== uid) return `it belongs to uid ${info.uid}, not to this agent (uid ${uid})`;
    if (info.mode & 0o022) return `others may write to it (mode ${(info.mode & 0o777).toString(8)}); chmod go-w it`;
    return undefined;
  }

  private async scan(): Promise<void> {
    if (!this.running) return;
    let names: string[];
    try {
      names = await readdir(this.folder);
    } catch (err) {
      this.log.warn(`cannot list ${this.folder}: ${errorMessage(err)}`);
      return;
    }
    for (const name of names) this.observe(name);
    // Forget files that went away (moved in, or deleted) so the same name can come again.
    for (const name of this.delivered.keys()) if (!names.includes(name)) this.delivered.delete(name);
  }

  /** Looks at one entry after any sign of change and (re)starts its settle timer if it changed. */
  private observe(name: string): void {
    // Hidden names are partial copies of tools that rename when done (rsync, editors).
    if (!this.running || name.startsWith('.')) return;
    void this.fingerprint(name).then((fingerprint) => {
      if (!this.running) return;
      const pending = this.pending.get(name);
      if (fingerprint === undefined) {
        if (pending) clearTimeout(pending.timer);
        this.pending.delete(name);
        this.delivered.delete(name);
        return;
      }
      if (this.delivered.get(name) === fingerprint) return;
      if (pending?.fingerprint === fingerprint) return;
      if (pending) clearTimeout(pending.timer);
      this.pending.set(name, { fingerprint, timer: setTimeout(() => this.settled(name, fingerprint), this.settleMs) });
    });
  }

  private async settled(name: string, fingerprint: string): Promise<void> {
    if (!this.running || this.pending.get(name)?.fingerprint !== fingerprint) return;
    const now = await this.fingerprint(name);
    if (!this.running || this.pending.get(name)?.fingerprint !== fingerprint) return;
    this.pending.delete(name);
    if (now !== fingerprint) {
      // Changed without an event reaching us: watch it settle again.
      this.observe(name);
      return;
    }
    this.delivered.set(name, fingerprint);
    const path = join(this.folder, name);
    this.deliveries = this.deliveries.then(async () => {
      if (!this.running) return;
      this.log.info(`${path} stopped changing; installing it`);
      try {
        await this.onFile(path);
      } catch (err) {
        this.log.error(`installing ${path} failed: ${errorMessage(err)}`);
      }
    });
  }

  /** Identity and state of a regular file, or undefined for anything else (or nothing). */
  private async fingerprint(name: string): Promise<string | undefined> {
    try {
      const info = await lstat(join(this.folder, name));
      if (!info.isFile()) return undefined;
      return `${info.dev}:${info.ino}:${info.size}:${info.mtimeMs}`;
    } catch {
      return undefined;
    }
  }
}
