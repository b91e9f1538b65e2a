// Disk figures: the mounted file systems `df` would list by default (no pseudo file
// systems, nothing hidden under another mount, each device once), measured with statfs.

import { createReadStream } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { errorMessage } from '../log.js';

/** One mounted file system and its space, in bytes. */
export interface DiskUsage {
  /** The mount's source, as df shows it ("/dev/sda1", "tmpfs"...). */
  device: string;
  /** The file system type ("ext4", "tmpfs"...). */
  type: string;
  mountPoint: string;
  /** Free blocks, including those reserved for root. */
  freeBytes: number;
  /** What an unprivileged user can still write. */
  availableBytes: number;
  sizeBytes: number;
}

export interface MountEntry {
  id: number;
  parentId: number;
  /** "major:minor" of the file system; bind mounts of one file system share it. */
  device: string;
  /** The directory of the file system that is mounted (not "/" for a bind mount of a subfolder). */
  root: string;
  mountPoint: string;
  mountOptions: string;
  type: string;
  source: string;
}

/** Types coreutils' df treats as dummies unless given -a (its ME_DUMMY list). */
const pseudoTypes = new Set([
  'autofs', 'proc', 'subfs', 'debugfs', 'devpts', 'fusectl', 'fuse.portal', 'mqueue', 'rpc_pipefs',
  'sysfs', 'devfs', 'kernfs', 'ignore',
]);

/** mountinfo writes space, tab, newline and backslash as octal escapes. */
function unescapeOctal(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_all, code: string) => String.fromCharCode(parseInt(code, 8)));
}

/** One line of /proc/self/mountinfo, or undefined when it is not one (see proc(5)). */
export function parseMountinfoLine(line: string): MountEntry | undefined {
  const fields = line.trim().split(' ');
  // Optional fields (shared:N, master:N...) come before a lone "-"; their number varies.
  const separator = fields.indexOf('-', 6);
  if (fields.length < 10 || separator < 0 || fields.length < separator + 3) return undefined;
  const [id, parentId, device, root, mountPoint, mountOptions] = fields;
  return {
    id: Number(id),
    parentId: Number(parentId),
    device: device!,
    root: unescapeOctal(root!),
    mountPoint: unescapeOctal(mountPoint!),
    mountOptions: mountOptions!,
    type: unescapeOctal(fields[separator + 1]!),
    source: unescapeOctal(fields[separator + 2]!),
  };
}

export async function readMountinfo(path = '/proc/self/mountinfo'): Promise<MountEntry[]> {
  const entries: MountEntry[] = [];
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  for await (const line of lines) {
    const entry = parseMountinfoLine(line);
    if (entry) entries.push(entry);
  }
  return entries;
}

function isPseudo(entry: MountEntry): boolean {
  // df keeps type "none" when it is a bind mount, so du-like tools can see it.
  return pseudoTypes.has(entry.type) || (entry.type === 'none' && !entry.mountOptions.split(',').includes('bind'));
}

/** The mounts a path lookup can reach: not covered by a later mount on the same directory, and
 * not inside a mount that is itself covered. */
export function visibleMounts(entries: MountEntry[]): MountEntry[] {
  const byId = new Map(entries.map((e) => [e.id, e]));
  const covered = new Set<number>();
  for (const e of entries) {
    const parent = byId.get(e.parentId);
    if (parent && parent.id !== e.id && parent.mountPoint === e.mountPoint) covered.add(parent.id);
  }
  const reachable = new Map<number, boolean>();
  const isReachable = (e: MountEntry, depth: number): boolean => {
    const known = reachable.get(e.id);
    if (known !== undefined) return known;
    const parent = byId.get(e.parentId);
    let result: boolean;
    if (!parent || parent.id === e.id || depth > entries.length) result = true;
    else if (parent.mountPoint === e.mountPoint) result = isReachable(parent, depth + 1);
    else result = !covered.has(parent.id) && isReachable(parent, depth + 1);
    reachable.set(e.id, result);
    return result;
  };
  return entries.filter((e) => !covered.has(e.id) && isReachable(e, 0));
}

/** Whether `candidate` describes a device better than `kept` (df's rules: a real device path
 * wins, then the mount of the file system's own root, then the mount nearest to "/"). */
function betterRepresentative(candidate: MountEntry, kept: MountEntry): boolean {
  const candidateReal = candidate.source.includes('/');
  const keptReal = kept.source.includes('/');
  if (candidateReal !== keptReal) return candidateReal;
  if (candidate.root.length !== kept.root.length) return candidate.root.length < kept.root.length;
  return candidate.mountPoint.length < kept.mountPoint.length;
}

/** The mounts df lists by default, before the empty (zero-block) ones are dropped, in the order
 * they were mounted. */
export function diskMounts(entries: MountEntry[]): MountEntry[] {
  const byDevice = new Map<string, MountEntry>();
  for (const entry of visibleMounts(entries)) {
    if (isPseudo(entry)) continue;
    const kept = byDevice.get(entry.device);
    if (!kept || betterRepresentative(entry, kept)) byDevice.set(entry.device, entry);
  }
  const kept = new Set(byDevice.values());
  return entries.filter((e) => kept.has(e));
}

export interface ReadDisksOptions {
  mountinfoPath?: string;
  /** A statfs that does not return (a dead network file system) leaves that mount out. */
  statfsTimeoutMs?: number;
  /** Told about each mount left out because it could not be measured. */
  onSkipped?: (mountPoint: string, reason: string) => void;
}

/**
 * Reads disk figures, remembering statfs calls that did not return in time. Such a call cannot be
 * cancelled: it holds one of libuv's few threadpool threads (4 by default) until the file system
 * answers, and every fs call of the agent needs one. So while a mount's statfs is still pending,
 * later readings leave that mount out instead of sending it another one.
 */
export class DiskReader {
  /** Mount points whose statfs was given up on but has not settled. */
  private readonly pending = new Set<string>();

  constructor(private readonly options: ReadDisksOptions = {}) {}

  /** Mount points with a statfs still outstanding. */
  get stuckMounts(): string[] {
    return [...this.pending];
  }

  async read(): Promise<DiskUsage[]> {
    const { options } = this;
    const timeoutMs = options.statfsTimeoutMs ?? 2000;
    const mounts = diskMounts(await readMountinfo(options.mountinfoPath));
    const measured = await Promise.all(
      mounts.map(async (mount): Promise<DiskUsage | undefined> => {
        if (this.pending.has(mount.mountPoint)) {
          options.onSkipped?.(mount.mountPoint, 'an earlier statfs of it has not returned yet');
          return undefined;
        }
        try {
          const fs = await this.statfsWithin(mount.mountPoint, timeoutMs);
          // Like df without -a: a file system without blocks holds no data (cgroup, binfmt_misc...).
          if (fs.blocks === 0n) return undefined;
          return {
            device: mount.source,
            type: mount.type,
            mountPoint: mount.mountPoint,
            freeBytes: Number(fs.bfree * fs.bsize),
            availableBytes: Number(fs.bavail * fs.bsize),
            sizeBytes: Number(fs.blocks * fs.bsize),
          };
        } catch (err) {
          options.onSkipped?.(mount.mountPoint, errorMessage(err));
          return undefined;
        }
      }),
    );
    return measured.filter((d): d is DiskUsage => d !== undefined);
  }

  private async statfsWithin(path: string, timeoutMs: number) {
    let timer: NodeJS.Timeout | undefined;
    const call = statfs(path, { bigint: true });
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.pending.add(path);
        const settled = () => this.pending.delete(path);
        call.then(settled, settled);
        reject(new Error(`statfs did not return within ${timeoutMs} ms`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([call, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** One reading with its own memory of stuck mounts: for a single use; a service that reads
 * repeatedly keeps one DiskReader. */
export function readDisks(options: ReadDisksOptions = {}): Promise<DiskUsage[]> {
  return new DiskReader(options).read();
}
