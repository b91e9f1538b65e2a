// Self-update: where releases go and how one is chosen at start.
//
// - The packaged release (/usr/lib/arduino-connector, dpkg's) is never written by an update. An
//   update is unpacked under the writable data folder, `<releases_path>/<version>/` (setting
//   releases_path, default releases/ in the data folder sketches_path, so
//   /var/lib/arduino-connector/releases), after its signature and its
//   manifest were checked. `<releases_path>/current` and `previous` are symbolic links to version
//   folders, each replaced in one step (a new link renamed over the old). No `current`: the
//   packaged release runs. Only current and previous are kept; other versions are pruned.
// - `<releases_path>/state` (key=value lines, replaced whole, readable by sh) says which version
//   the last update went to and from, its phase (probation, committed, expired, rolled-back), how
//   many times the selector started it on probation, when it was switched in, why it was rolled
//   back, and whether that was reported.
// - The unit's ExecStart is the selector (src/update/selector.ts, `bin/start` of the packaged
//   release): a POSIX sh script, never replaced by an update, that counts a start of the release
//   on probation and switches `current` back to `previous` when that release already started
//   MAX_PROBATION_STARTS times without committing or ended itself at its deadline; then it execs
//   the chosen release's launcher (the pid stays the main process).
// - The agent on probation commits (phase committed) once it has answered a `status` through the
//   broker. It keeps its own deadline (update_probation seconds from its start, monotonic): missed,
//   it writes phase expired and exits non-zero, so Restart=on-failure runs the selector, which
//   rolls back. The selector keeps no deadline of its own on the wall clock: a device switched
//   off after an update, or whose clock jumps at boot (no RTC, then NTP), would roll back a good
//   release. A release that hangs is ended by the unit's watchdog, which counts as a start.
// - The order of writes makes a power cut at any point safe: the release is renamed into place
//   whole, then the state (probation) is written, then `current` switched. Killed before the state:
//   nothing changed (a stray folder is pruned later). Between state and switch: the selector sees
//   a probation for a release that is not current and records the update as rolled back.
// - A rolled-back agent, once connected, publishes `ERROR: update to <v> rolled back: <reason>` on
//   B/update once (reported=1).

import { randomBytes } from 'node:crypto';
import { readdir, readFile, readlink, rename, rm, symlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { writeFileAtomic } from '../lib/atomic-file.js';

export const STATE_FILE = 'state';
/** Starts of a release on probation before the selector gives up on it. */
export const MAX_PROBATION_STARTS = 3;
/** Exit code after an update is switched in: non-zero, so that Restart=on-failure starts the
 * service again (a clean 0 would leave it stopped); EX_TEMPFAIL, as the journal will show. */
export const EXIT_UPDATED = 75;
/** Exit code of a release that missed its probation deadline (EX_SOFTWARE). */
export const EXIT_PROBATION_EXPIRED = 70;

export type UpdatePhase = 'probation' | 'committed' | 'expired' | 'rolled-back';

export interface UpdateState {
  version: string;
  from: string;
  phase: UpdatePhase;
  starts: number;
  /** When it was switched in (wall-clock seconds, for people: nothing decides by it). */
  since: number;
  reason: string;
  reported: boolean;
}

const phases: readonly UpdatePhase[] = ['probation', 'committed', 'expired', 'rolled-back'];

/** A version is also a folder name: nothing that could leave the releases folder or a link. */
export const versionPattern = /^[0-9A-Za-z][0-9A-Za-z.+~_-]{0,63}$/;

export async function readUpdateState(releasesDir: string): Promise<UpdateState | undefined> {
  let text: string;
  try {
    text = await readFile(join(releasesDir, STATE_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) fields.set(line.slice(0, eq), line.slice(eq + 1));
  }
  const phase = fields.get('phase') as UpdatePhase;
  const version = fields.get('version') ?? '';
  if (!phases.includes(phase) || !versionPattern.test(version)) return undefined;
  return {
    version,
    from: fields.get('from') ?? '',
    phase,
    starts: Number(fields.get('starts')) || 0,
    since: Number(fields.get('since')) || 0,
    reason: fields.get('reason') ?? '',
    reported: fields.get('reported') === '1',
  };
}

/** One line per field; a reason is kept to one line of printable text, for the selector's read. */
export async function writeUpdateState(releasesDir: string, state: UpdateState): Promise<void> {
  const reason = state.reason.replace(/[^\x20-\x7e]/g, ' ').slice(0, 300);
  const text = `version=${state.version}\nfrom=${state.from}\nphase=${state.phase}\nstarts=${state.starts}\nsince=${state.since}\nreason=${reason}\nreported=${state.reported ? 1 : 0}\n`;
  await writeFileAtomic(join(releasesDir, STATE_FILE), text, { mode: 0o600 });
}

/** The version folder a link (current, previous) names; undefined without the link. */
export async function linkedVersion(releasesDir: string, link: 'current' | 'previous'): Promise<string | undefined> {
  try {
    return basename(await readlink(join(releasesDir, link)));
  } catch {
    return undefined;
  }
}

/** Points `link` at `<releasesDir>/<version>` in one step; `undefined` removes the link. */
export async function setLink(releasesDir: string, link: 'current' | 'previous', version: string | undefined): Promise<void> {
  const path = join(releasesDir, link);
  if (version === undefined) {
    await rm(path, { force: true });
    return;
  }
  const temp = join(releasesDir, `.${link}.${randomBytes(6).toString('hex')}`);
  // Relative, so that the releases folder can be moved or mounted elsewhere whole.
  await symlink(version, temp);
  try {
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

/** The version folders but `keep`, and what interrupted downloads, unpacks and switches left (all
 * dot-names); none when the folder does not exist yet. */
export async function staleReleases(releasesDir: string, keep: readonly (string | undefined)[]): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(releasesDir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return entries
    .filter((entry) => !['current', 'previous', STATE_FILE].includes(entry.name) && !keep.includes(entry.name))
    .filter((entry) => entry.isDirectory() || entry.name.startsWith('.'))
    .map((entry) => entry.name);
}

/** Removes every version folder but `keep`, and the leftovers of interrupted work; their names. */
export async function pruneReleases(releasesDir: string, keep: readonly (string | undefined)[]): Promise<string[]> {
  const stale = await staleReleases(releasesDir, keep);
  for (const name of stale) await rm(join(releasesDir, name), { recursive: true, force: true });
  return stale;
}
