// The sketch table (id ↔ file name, desired state) is what lets a rebooted device get its programs
// back. Every change is written as a whole new file that replaces the old one atomically, so a
// kill -9 or a power cut leaves either the previous table or the new one, never a torn one.

import { mkdir, readFile, readdir, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { writeFileAtomic } from '../lib/atomic-file.js';
import { errorMessage, silentLogger, type Logger } from '../log.js';
import { checkFileName } from './names.js';
import type { ProcessIdentity } from './process-identity.js';
import { SerialQueue } from '../lib/serial-queue.js';

export type DesiredState = 'RUNNING' | 'STOPPED' | 'PAUSED';

export interface SketchRecord {
  id: string;
  name: string;
  desired: DesiredState;
  /** The process that ran it when the record was written, so a later run of the agent can end it
   * if it outlived the agent (a kill -9 outside systemd) rather than start a second copy. */
  process?: ProcessIdentity;
}

const desiredStates: readonly string[] = ['RUNNING', 'STOPPED', 'PAUSED'];
const formatVersion = 1;

interface TableFile {
  version: number;
  sketches: SketchRecord[];
}

export class SketchTable {
  /** What is on disk; changed only after a write succeeded. */
  private records: Map<string, SketchRecord>;
  /** Writes run one after another so the file always ends up holding the latest table. */
  private readonly writes = new SerialQueue();

  private constructor(private readonly file: string, records: SketchRecord[]) {
    this.records = new Map(records.map((r) => [r.id, r]));
  }

  /** Missing file = empty table; a corrupt file is kept aside (renamed *.corrupt) and logged, not fatal. */
  static async open(file: string, options: { log?: Logger } = {}): Promise<SketchTable> {
    const log = options.log ?? silentLogger;
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    await removeStaleTempFiles(file, log);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new SketchTable(file, []);
      throw err;
    }
    try {
      return new SketchTable(file, parseTable(text));
    } catch (err) {
      const aside = `${file}.corrupt`;
      await rename(file, aside);
      log.error(`sketch table ${file} is unreadable (${errorMessage(err)}); kept as ${aside}, starting with an empty table`);
      return new SketchTable(file, []);
    }
  }

  list(): SketchRecord[] {
    return [...this.records.values()].map((r) => ({ ...r }));
  }

  get(id: string): SketchRecord | undefined {
    const record = this.records.get(id);
    return record && { ...record };
  }

  /** Adds or replaces the record with this id; resolves once it is on disk. */
  async put(record: SketchRecord): Promise<void> {
    const clean = checkRecord(record);
    await this.change((next) => void next.set(clean.id, clean));
  }

  /** Removes the record with this id (nothing happens if there is none); resolves once on disk. */
  async remove(id: string): Promise<void> {
    await this.change((next) => void next.delete(id));
  }

  private change(edit: (next: Map<string, SketchRecord>) => void): Promise<void> {
    const run = async () => {
      const next = new Map(this.records);
      edit(next);
      const content: TableFile = { version: formatVersion, sketches: [...next.values()] };
      await writeFileAtomic(this.file, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
      this.records = next;
    };
    return this.writes.run(run);
  }
}

function checkRecord(record: SketchRecord): SketchRecord {
  checkFileName(record.id, 'sketch id');
  checkFileName(record.name, 'sketch name');
  if (!desiredStates.includes(record.desired)) throw new TypeError(`desired state must be one of ${desiredStates.join(', ')}, not ${String(record.desired)}`);
  const out: SketchRecord = { id: record.id, name: record.name, desired: record.desired };
  const p = record.process as Partial<ProcessIdentity> | undefined;
  if (p !== undefined) {
    if (typeof p !== 'object' || p === null || !Number.isInteger(p.pid) || !Number.isInteger(p.startTicks) || typeof p.bootId !== 'string') {
      throw new TypeError('process must be {pid, startTicks, bootId}');
    }
    out.process = { pid: p.pid!, startTicks: p.startTicks!, bootId: p.bootId };
  }
  return out;
}

function parseTable(text: string): SketchRecord[] {
  const data = JSON.parse(text) as Partial<TableFile> | null;
  if (!data || typeof data !== 'object' || !Array.isArray(data.sketches)) throw new Error('no "sketches" list');
  if (data.version !== formatVersion) throw new Error(`unknown version ${String(data.version)}`);
  const seen = new Set<string>();
  return data.sketches.map((entry: SketchRecord, index) => {
    if (!entry || typeof entry !== 'object') throw new Error(`entry ${index} is not an object`);
    let record: SketchRecord;
    try {
      record = checkRecord(entry);
    } catch (err) {
      throw new Error(`entry ${index}: ${errorMessage(err)}`);
    }
    if (seen.has(record.id)) throw new Error(`entry ${index}: id ${record.id} appears twice`);
    seen.add(record.id);
    return record;
  });
}

/** Temporary files of writes that a kill interrupted (named by writeFileAtomic). */
async function removeStaleTempFiles(file: string, log: Logger): Promise<void> {
  const dir = dirname(file);
  const prefix = `.${basename(file)}.`;
  const pattern = /^\d+\.[0-9a-f]+\.tmp$/;
  for (const entry of await readdir(dir)) {
    if (!entry.startsWith(prefix) || !pattern.test(entry.slice(prefix.length))) continue;
    await unlink(join(dir, entry)).catch(() => {});
    log.debug(`removed ${entry}, left by an interrupted write of the sketch table`);
  }
}
