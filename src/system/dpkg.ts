// What dpkg knows: every package in its database with the status word dpkg itself uses
// (installed, config-files, half-installed...). One dpkg-query run costs about 10 ms.

import { FailedError, TimedOutError } from '../errors.js';
import { errorMessage } from '../log.js';
import { RunTimeoutError, runCommand, type RunOptions, type RunResult } from '../lib/run-command.js';

export interface DpkgEntry {
  name: string;
  architecture: string;
  version: string;
  /** dpkg's own word: installed, not-installed, config-files, unpacked, half-configured... */
  status: string;
  /** The first line of the description ("" when there is none). */
  summary: string;
  /** Installed-Size, in KiB (0 when unknown). */
  installedSizeKiB: number;
}

/** Runs a read-only dpkg or apt query (of this adapter or the package index): a time-out is a
 * TimedOutError, a program that cannot start or exits non-zero a FailedError naming `label`. */
export async function runQuery(command: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  let result: RunResult;
  try {
    result = await runCommand(command, args, options);
  } catch (err) {
    if (err instanceof RunTimeoutError) throw new TimedOutError(err.message, { cause: err });
    throw new FailedError(errorMessage(err), { cause: err });
  }
  if (result.code !== 0) throw new FailedError(`${options.label ?? command} failed (exit ${result.code}): ${result.output.trim()}`);
  return result;
}

const format = '${Package}\\t${Architecture}\\t${Version}\\t${db:Status-Status}\\t${Installed-Size}\\t${binary:Summary}\\n';

export function parseDpkgQuery(output: string): DpkgEntry[] {
  const entries: DpkgEntry[] = [];
  for (const line of output.split('\n')) {
    const [name, architecture, version, status, size, ...summary] = line.split('\t');
    if (!name || architecture === undefined || version === undefined || !status) continue;
    entries.push({ name, architecture, version, status, summary: summary.join('\t'), installedSizeKiB: parseSize(size) });
  }
  return entries;
}

/** An Installed-Size value; 0 for an absent or malformed one. */
function parseSize(text: string | undefined): number {
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : 0;
}

/** Every package in dpkg's database. */
export async function listDpkgPackages(env: NodeJS.ProcessEnv = process.env, timeoutMs = 2 * 60_000): Promise<DpkgEntry[]> {
  const result = await runQuery('dpkg-query', ['-W', `-f=${format}`], { env, timeoutMs });
  return parseDpkgQuery(result.output);
}
