// What dpkg knows: every package in its database with the status word dpkg itself uses
// (installed, config-files, half-installed...). One dpkg-query run costs about 10 ms.

import { runCommand } from '../lib/run-command.js';

export interface DpkgEntry {
  name: string;
  architecture: string;
  version: string;
  /** dpkg's own word: installed, not-installed, config-files, unpacked, half-configured... */
  status: string;
}

const format = '${Package}\\t${Architecture}\\t${Version}\\t${db:Status-Status}\\n';

export function parseDpkgQuery(output: string): DpkgEntry[] {
  const entries: DpkgEntry[] = [];
  for (const line of output.split('\n')) {
    const [name, architecture, version, status] = line.split('\t');
    if (!name || architecture === undefined || version === undefined || !status) continue;
    entries.push({ name, architecture, version, status });
  }
  return entries;
}

/** Every package in dpkg's database. */
export async function listDpkgPackages(env: NodeJS.ProcessEnv = process.env, timeoutMs = 2 * 60_000): Promise<DpkgEntry[]> {
  const result = await runCommand('dpkg-query', ['-W', `-f=${format}`], { env, timeoutMs });
  if (result.code !== 0) throw new Error(`dpkg-query failed (exit ${result.code}): ${result.output.trim()}`);
  return parseDpkgQuery(result.output);
}
