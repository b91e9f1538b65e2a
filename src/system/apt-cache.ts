// The package index behind apt/get and apt/list: dpkg's database merged with apt's candidates.
// Asking apt costs most of a second (tens of thousands of packages), so the merged table is kept
// and rebuilt only when dpkg's or apt's state changed on disk (status file, lists folder, sources),
// whoever changed it: this agent, an administrator, or unattended-upgrades.

import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import type { AptPackage } from '../api.js';
import { compareDebianVersions } from './debian-version.js';
import { listDpkgPackages, type DpkgEntry } from './dpkg.js';
import { RunTimeoutError, killGroupAfter, runCommand } from '../lib/run-command.js';

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
  const result = await runCommand(
    'apt-config',
    ['shell', 'STATUS', 'Dir::State::status/f', 'LISTS', 'Dir::State::lists/d', 'SOURCELIST', 'Dir::Etc::sourcelist/f', 'SOURCEPARTS', 'Dir::Etc::sourceparts/d'],
    { env, timeoutMs },
  );
  if (result.code !== 0) throw new Error(`apt-config failed (exit ${result.code}): ${result.output.trim()}`);
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

export interface Candidate {
  name: string;
  architecture: string;
  version: string;
}

/** apt's candidate version of every package it knows, read from `apt-cache dumpavail` as it
 * streams (about 50 MB on a full Debian mirror) without keeping the records themselves. */
export function readCandidates(env: NodeJS.ProcessEnv = process.env, timeoutMs = DEFAULT_QUERY_TIMEOUT_MS, killGraceMs = 5000): Promise<Map<string, Candidate>> {
  return new Promise((resolve, reject) => {
    // Its own process group, so a time-out stops it and anything it started.
    const child = spawn('apt-cache', ['dumpavail'], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      deadline.cancel();
      clearTimeout(fallback);
      fn();
    };
    const timedOut = () => reject(new RunTimeoutError('apt-cache dumpavail', timeoutMs, errors));
    let fallback: NodeJS.Timeout | undefined;
    const deadline = killGroupAfter(child, timeoutMs, killGraceMs, () => {
      // Answered once it is gone ('close'), or soon after the SIGKILL in any case.
      fallback = setTimeout(() => settle(timedOut), killGraceMs + 1000);
      fallback.unref();
    });
    const candidates = new Map<string, Candidate>();
    // A handful of architecture words repeat tens of thousands of times: keep one copy of each.
    const architectures = new Map<string, string>();
    let name = '';
    let architecture = '';
    let version = '';
    const flush = () => {
      if (name && version && !candidates.has(name)) candidates.set(name, { name, architecture, version });
      name = architecture = version = '';
    };
    const fieldAt = (buf: Buffer, start: number, field: Buffer) =>
      buf[start] === field[0] && buf.length - start >= field.length && buf.compare(field, 0, field.length, start, start + field.length) === 0;
    const packageField = Buffer.from('Package: ');
    const versionField = Buffer.from('Version: ');
    const architectureField = Buffer.from('Architecture: ');
    let rest: Buffer = Buffer.alloc(0);
    let errors = '';
    child.stdout.on('data', (chunk: Buffer) => {
      // Values are decoded from the bytes (not sliced from a big string, which would keep the
      // whole chunk alive for as long as the index lives).
      const buf = rest.length ? Buffer.concat([rest, chunk]) : chunk;
      let start = 0;
      for (let nl = buf.indexOf(10, start); nl >= 0; nl = buf.indexOf(10, start)) {
        if (nl === start) flush();
        else if (fieldAt(buf, start, packageField)) {
          flush();
          name = buf.toString('latin1', start + packageField.length, nl);
        } else if (fieldAt(buf, start, versionField)) {
          version = buf.toString('latin1', start + versionField.length, nl);
        } else if (fieldAt(buf, start, architectureField)) {
          const word = buf.toString('latin1', start + architectureField.length, nl);
          architecture = architectures.get(word) ?? (architectures.set(word, word), word);
        }
        start = nl + 1;
      }
      rest = Buffer.from(buf.subarray(start));
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => (errors = (errors + c).slice(-4096)));
    child.once('error', (err) => settle(() => reject(err)));
    child.once('close', (code) => {
      if (deadline.fired()) return settle(timedOut);
      flush();
      settle(() => (code !== 0 ? reject(new Error(`apt-cache dumpavail failed (exit ${code}): ${errors.trim()}`)) : resolve(candidates)));
    });
  });
}

interface Snapshot {
  dpkgStamp: string;
  aptStamp: string;
  installed: DpkgEntry[];
  candidates: Map<string, Candidate>;
  /** Every package, sorted by name then architecture. */
  rows: AptPackage[];
}

/** Merges dpkg's view with apt's: an installed package whose candidate is newer is `upgradable`
 * (and carries the version it would be upgraded to); one only apt knows is `not-installed`. */
export function mergePackages(installed: DpkgEntry[], candidates: Map<string, Candidate>): AptPackage[] {
  const rows: AptPackage[] = [];
  const known = new Set<string>();
  for (const entry of installed) {
    known.add(entry.name);
    const candidate = candidates.get(entry.name);
    const sameArch = candidate && (candidate.architecture === entry.architecture || candidate.architecture === 'all' || entry.architecture === 'all');
    if (entry.status === 'installed' && candidate && sameArch && compareDebianVersions(candidate.version, entry.version) > 0) {
      rows.push({ Name: entry.name, Status: 'upgradable', Architecture: entry.architecture, Version: candidate.version });
    } else if (entry.status === 'not-installed' && candidate) {
      rows.push({ Name: entry.name, Status: 'not-installed', Architecture: candidate.architecture, Version: candidate.version });
    } else {
      rows.push({ Name: entry.name, Status: entry.status, Architecture: entry.architecture, Version: entry.version });
    }
  }
  for (const candidate of candidates.values()) {
    if (known.has(candidate.name)) continue;
    rows.push({ Name: candidate.name, Status: 'not-installed', Architecture: candidate.architecture, Version: candidate.version });
  }
  rows.sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : a.Architecture < b.Architecture ? -1 : a.Architecture > b.Architecture ? 1 : 0));
  return rows;
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
      const next = { dpkgStamp, aptStamp, installed, candidates, rows: mergePackages(installed, candidates) };
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
  async search(text: string): Promise<AptPackage[]> {
    const needle = text.toLowerCase();
    const { rows } = await this.current();
    return needle === '' ? rows.slice() : rows.filter((row) => row.Name.includes(needle));
  }

  /** Installed packages with a newer candidate. */
  async upgradable(): Promise<AptPackage[]> {
    const { rows } = await this.current();
    return rows.filter((row) => row.Status === 'upgradable');
  }

  /** The package named (optionally `name:arch`; a `=version` or `/release` suffix is ignored). */
  async get(spec: string): Promise<AptPackage[]> {
    const bare = spec.replace(/[=/].*$/, '');
    const [name, arch] = bare.split(':');
    const { rows } = await this.current();
    const hits = rows.filter((row) => row.Name === name && (arch === undefined || row.Architecture === arch || row.Architecture === 'all'));
    return hits.slice(0, 1);
  }
}
