// The package index behind apt/get and apt/list: dpkg's database merged with apt's candidates.
// Asking apt costs most of a second (tens of thousands of packages), so the merged table is kept
// and rebuilt only when dpkg's or apt's state changed on disk (status file, lists folder, sources),
// whoever changed it: this agent, an administrator, or unattended-upgrades.

import { stat } from 'node:fs/promises';
import { filterInSlices, forEachInSlices, sortInSlices, TimeSlicer } from '../lib/slices.js';
import { compareDebianVersions } from './debian-version.js';
import { listDpkgPackages, runQuery, type DpkgEntry } from './dpkg.js';

/** apt and dpkg queries normally take about a second; one that hangs (a held lock, a dead NFS
 * lists folder) is stopped after this. */
export const DEFAULT_QUERY_TIMEOUT_MS = 2 * 60_000;

/** The files whose change means the cached answers are stale. */
export interface AptStatePaths {
  dpkgStatus: string;
  lists: string;
  sourceList: string;
  sourceParts: string;
}

/** Where apt keeps its state, as apt itself resolves it (so APT_CONFIG is honoured). */
export async function readAptStatePaths(env: NodeJS.ProcessEnv = process.env, timeoutMs = DEFAULT_QUERY_TIMEOUT_MS): Promise<AptStatePaths> {
  const result = await runQuery(
    'apt-config',
    ['shell', 'STATUS', 'Dir::State::status/f', 'LISTS', 'Dir::State::lists/d', 'SOURCELIST', 'Dir::Etc::sourcelist/f', 'SOURCEPARTS', 'Dir::Etc::sourceparts/d'],
    { env, timeoutMs },
  );
  const values = new Map<string, string>();
  for (const m of result.output.matchAll(/^(\w+)='((?:[^']|'\\'')*)'$/gm)) values.set(m[1] as string, (m[2] as string).replaceAll("'\\''", "'"));
  const get = (key: string, fallback: string) => values.get(key) || fallback;
  return {
    dpkgStatus: get('STATUS', '/var/lib/dpkg/status'),
    lists: get('LISTS', '/var/lib/apt/lists/'),
    sourceList: get('SOURCELIST', '/etc/apt/sources.list'),
    sourceParts: get('SOURCEPARTS', '/etc/apt/sources.list.d/'),
  };
}

async function fileStamp(path: string): Promise<string> {
  try {
    const s = await stat(path, { bigint: true });
    return `${s.ino}:${s.size}:${s.mtimeNs}`;
  } catch {
    return 'absent';
  }
}

/** One package of the table, as the package index answers it. Rows are shared by the cached
 * table and every answer, so they are never changed. */
export interface PackageRecord {
  readonly name: string;
  /** dpkg's status word, `not-installed` for one only apt knows, or `upgradable`. */
  readonly status: string;
  readonly architecture: string;
  /** The installed version, or for `upgradable` and `not-installed` apt's candidate. */
  readonly version: string;
  /** The first line of that version's description ("" when unknown). */
  readonly summary: string;
  /** That version's Installed-Size in KiB (0 when unknown). */
  readonly installedSizeKiB: number;
}

/** apt's candidate version of a package, read as the row of a package that is not installed:
 * most packages are not, and their rows are these very objects (one object a package, not two). */
export interface Candidate extends PackageRecord {
  readonly status: 'not-installed';
}

const packageField = Buffer.from('Package: ');
const versionField = Buffer.from('Version: ');
const architectureField = Buffer.from('Architecture: ');
const sizeField = Buffer.from('Installed-Size: ');
const descriptionField = Buffer.from('Description: ');

/** Reads `apt-cache dumpavail` as its bytes arrive, keeping from each record only the fields of
 * the table: the whole output (about 50 MB on a full Debian mirror) is never held. */
export class CandidateReader {
  readonly candidates = new Map<string, Candidate>();
  // A handful of architecture words repeat tens of thousands of times: keep one copy of each.
  private readonly architectures = new Map<string, string>();
  private rest: Buffer = Buffer.alloc(0);
  private name = '';
  private architecture = '';
  private version = '';
  private summary = '';
  private installedSizeKiB = 0;

  private flush(): void {
    const { name, version } = this;
    if (name && version && !this.candidates.has(name)) {
      this.candidates.set(name, { name, status: 'not-installed', architecture: this.architecture, version, summary: this.summary, installedSizeKiB: this.installedSizeKiB });
    }
    this.name = this.architecture = this.version = this.summary = '';
    this.installedSizeKiB = 0;
  }

  push(chunk: Buffer): void {
    // Values are decoded from the bytes (not sliced from a big string, which would keep the
    // whole chunk alive for as long as the index lives).
    const buf = this.rest.length ? Buffer.concat([this.rest, chunk]) : chunk;
    // A byte loop: most candidates differ from the field within a few bytes, and a call into
    // Buffer#compare costs more than that for each of a million lines.
    const fieldAt = (start: number, field: Buffer) => {
      if (buf.length - start < field.length) return false;
      for (let i = 1; i < field.length; i++) if (buf[start + i] !== field[i]) return false;
      return true;
    };
    let start = 0;
    for (let nl = buf.indexOf(10, start); nl >= 0; start = nl + 1, nl = buf.indexOf(10, start)) {
      // Most of a record's 15 or so lines are told apart by their first byte alone.
      switch (buf[start]) {
        case 10:
          this.flush();
          break;
        case 0x50: // P
          if (fieldAt(start, packageField)) {
            this.flush();
            this.name = buf.toString('latin1', start + packageField.length, nl);
          }
          break;
        case 0x56: // V
          if (fieldAt(start, versionField)) this.version = buf.toString('latin1', start + versionField.length, nl);
          break;
        case 0x41: // A
          if (fieldAt(start, architectureField)) {
            const word = buf.toString('latin1', start + architectureField.length, nl);
            this.architecture = this.architectures.get(word) ?? (this.architectures.set(word, word), word);
          }
          break;
        case 0x49: // I
          if (fieldAt(start, sizeField)) this.installedSizeKiB = digitsAt(buf, start + sizeField.length, nl);
          break;
        case 0x44: // D
          if (fieldAt(start, descriptionField)) this.summary = buf.toString('utf8', start + descriptionField.length, nl);
          break;
      }
    }
    this.rest = Buffer.from(buf.subarray(start));
  }

  /** Every candidate read, once the output ended. */
  end(): Map<string, Candidate> {
    this.flush();
    return this.candidates;
  }
}

/** The decimal number in buf[start, end); 0 when it is not one. */
function digitsAt(buf: Buffer, start: number, end: number): number {
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = (buf[i] as number) - 48;
    if (digit < 0 || digit > 9) return 0;
    value = value * 10 + digit;
  }
  return value;
}

/** apt's candidate version of every package it knows, read from `apt-cache dumpavail`. */
export async function readCandidates(env: NodeJS.ProcessEnv = process.env, timeoutMs = DEFAULT_QUERY_TIMEOUT_MS, killGraceMs = 5000): Promise<Map<string, Candidate>> {
  const reader = new CandidateReader();
  // Only stderr is kept: the end of it explains a failure.
  await runQuery('apt-cache', ['dumpavail'], { env, timeoutMs, killGraceMs, label: 'apt-cache dumpavail', onStdoutChunk: (c) => reader.push(c), maxOutputBytes: 4096 });
  return reader.end();
}

interface Snapshot {
  dpkgStamp: string;
  aptStamp: string;
  installed: DpkgEntry[];
  candidates: Map<string, Candidate>;
  /** Every package, sorted by name then architecture. */
  rows: PackageRecord[];
}

/** Merges dpkg's view with apt's: an installed package whose candidate is newer is `upgradable`
 * (and carries the version it would be upgraded to); one only apt knows is `not-installed`. The
 * table is merged and sorted in slices of the event loop: in one call it held other requests up
 * for tens of milliseconds. */
export async function mergePackages(installed: DpkgEntry[], candidates: Map<string, Candidate>): Promise<PackageRecord[]> {
  const slicer = new TimeSlicer();
  const rows: PackageRecord[] = [];
  const known = new Set<string>();
  await forEachInSlices(
    installed,
    (entry) => {
      known.add(entry.name);
      const candidate = candidates.get(entry.name);
      const sameArch = candidate && (candidate.architecture === entry.architecture || candidate.architecture === 'all' || entry.architecture === 'all');
      if (entry.status === 'installed' && candidate && sameArch && compareDebianVersions(candidate.version, entry.version) > 0) {
        rows.push({ ...candidate, status: 'upgradable', architecture: entry.architecture });
      } else if (entry.status === 'not-installed' && candidate) {
        rows.push(candidate);
      } else {
        const { name, status, architecture, version, summary, installedSizeKiB } = entry;
        rows.push({ name, status, architecture, version, summary, installedSizeKiB });
      }
    },
    slicer,
  );
  await forEachInSlices(
    candidates.values(),
    (candidate) => {
      if (!known.has(candidate.name)) rows.push(candidate);
    },
    slicer,
  );
  return sortInSlices(rows, compareRows, slicer);
}

/** The table's order: by name, then architecture. */
function compareRows(a: { name: string; architecture: string }, b: { name: string; architecture: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : a.architecture < b.architecture ? -1 : a.architecture > b.architecture ? 1 : 0;
}

/** The index of the first row named `name` or after it, in rows sorted by compareRows. */
function firstRowAtOrAfter(rows: readonly PackageRecord[], name: string): number {
  let low = 0;
  let high = rows.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((rows[middle] as PackageRecord).name < name) low = middle + 1;
    else high = middle;
  }
  return low;
}

export interface PackageIndexOptions {
  /** Environment of the apt and dpkg programs (APT_CONFIG selects another apt configuration). */
  env?: NodeJS.ProcessEnv;
  /** The table (some 15 MB for a full Debian mirror) is dropped after this long unused, so an
   * idle agent stays small (default 10 minutes; 0 keeps it). */
  releaseAfterMs?: number;
  /** Each apt or dpkg query is stopped after this long (default 2 minutes). */
  queryTimeoutMs?: number;
}

export class PackageIndex {
  private paths: Promise<AptStatePaths> | undefined;
  private snapshot: Snapshot | undefined;
  private building: Promise<Snapshot> | undefined;
  private generation = 0;
  /** How often each half was read from dpkg and apt (the rest came from the cache). */
  readonly reads = { dpkg: 0, apt: 0 };

  constructor(private readonly options: PackageIndexOptions = {}) {}

  private get queryTimeoutMs(): number {
    return this.options.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
  }

  private get env(): NodeJS.ProcessEnv {
    return this.options.env ?? process.env;
  }

  /** Forgets everything (the apt configuration itself may have moved). */
  invalidate(): void {
    this.generation++;
    this.snapshot = undefined;
    this.paths = undefined;
  }

  private lastUse = 0;
  private releaseTimer: NodeJS.Timeout | undefined;

  private touch(): void {
    const after = this.options.releaseAfterMs ?? 10 * 60_000;
    this.lastUse = Date.now();
    if (after <= 0 || this.releaseTimer) return;
    const check = () => {
      const idle = Date.now() - this.lastUse;
      if (idle >= after) {
        this.releaseTimer = undefined;
        this.snapshot = undefined;
        return;
      }
      this.releaseTimer = setTimeout(check, after - idle);
      this.releaseTimer.unref();
    };
    this.releaseTimer = setTimeout(check, after);
    this.releaseTimer.unref();
  }

  /** Whether a table is held in memory. */
  get holdsTable(): boolean {
    return this.snapshot !== undefined;
  }

  /** Stops the release timer (the table itself is dropped). */
  close(): void {
    if (this.releaseTimer) clearTimeout(this.releaseTimer);
    this.releaseTimer = undefined;
    this.invalidate();
  }

  private async stamps(): Promise<{ dpkgStamp: string; aptStamp: string }> {
    if (!this.paths) {
      const pending = readAptStatePaths(this.env, this.queryTimeoutMs);
      this.paths = pending;
      pending.catch(() => {
        if (this.paths === pending) this.paths = undefined;
      });
    }
    const paths = await this.paths;
    const [status, lists, sourceList, sourceParts] = await Promise.all([
      fileStamp(paths.dpkgStatus),
      fileStamp(paths.lists),
      fileStamp(paths.sourceList),
      fileStamp(paths.sourceParts),
    ]);
    return { dpkgStamp: status, aptStamp: `${lists}|${sourceList}|${sourceParts}` };
  }

  /** The current table; rebuilt (only the stale half) when the state on disk changed. */
  private async current(): Promise<Snapshot> {
    this.touch();
    const { dpkgStamp, aptStamp } = await this.stamps();
    const cached = this.snapshot;
    if (cached && cached.dpkgStamp === dpkgStamp && cached.aptStamp === aptStamp) return cached;
    // Concurrent requests share one rebuild.
    if (this.building) return this.building;
    const generation = this.generation;
    const build = (async (): Promise<Snapshot> => {
      const [installed, candidates] = await Promise.all([
        cached && cached.dpkgStamp === dpkgStamp ? cached.installed : (this.reads.dpkg++, listDpkgPackages(this.env, this.queryTimeoutMs)),
        cached && cached.aptStamp === aptStamp ? cached.candidates : (this.reads.apt++, readCandidates(this.env, this.queryTimeoutMs)),
      ]);
      const next = { dpkgStamp, aptStamp, installed, candidates, rows: await mergePackages(installed, candidates) };
      if (generation === this.generation) {
        this.snapshot = next;
        // A build can outlast the idle timer started before it: count idleness from now.
        this.touch();
      }
      return next;
    })();
    this.building = build;
    try {
      return await build;
    } finally {
      this.building = undefined;
    }
  }

  /** Every package whose name contains `text` (case-insensitive), sorted by name. */
  async search(text: string): Promise<PackageRecord[]> {
    const needle = text.toLowerCase();
    const { rows } = await this.current();
    return needle === '' ? rows.slice() : filterInSlices(rows, (row) => row.name.includes(needle));
  }

  /** Installed packages with a newer candidate. */
  async upgradable(): Promise<PackageRecord[]> {
    const { rows } = await this.current();
    return filterInSlices(rows, (row) => row.status === 'upgradable');
  }

  /** The package named (optionally `name:arch`; a `=version` or `/release` suffix is ignored). */
  async get(spec: string): Promise<PackageRecord[]> {
    const bare = spec.replace(/[=/].*$/, '');
    const [name, arch] = bare.split(':');
    const { rows } = await this.current();
    // The rows are sorted by name: the package's rows (one per architecture) are side by side.
    for (let i = firstRowAtOrAfter(rows, name ?? ''); i < rows.length && rows[i]!.name === name; i++) {
      const row = rows[i]!;
      if (arch === undefined || row.architecture === arch || row.architecture === 'all') return [row];
    }
    return [];
  }
}
