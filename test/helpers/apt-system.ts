// What dpkg and the kernel say, for the apt tests: a package's state as dpkg-query reads it, the
// processes still running, whether a mount is read-only.

import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** "<status> <version>" of a package, or "unknown" when dpkg does not know it. */
export async function dpkgStatus(name: string): Promise<string> {
  try {
    const { stdout } = await run('dpkg-query', ['-W', '-f=${db:Status-Status} ${Version}', name]);
    return stdout;
  } catch {
    return 'unknown';
  }
}

/** dpkg's own Installed-Size and summary of a package. */
export async function dpkgFields(name: string): Promise<string[]> {
  const { stdout } = await run('dpkg-query', ['-W', '-f=${Installed-Size}\t${binary:Summary}', name]);
  return stdout.split('\t');
}

/** Processes whose command line contains `token` (found through /proc). */
export async function processesWith(token: string): Promise<number[]> {
  const found: number[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(token)) found.push(Number(pid));
  }
  return found;
}

export async function mountIsReadOnly(path: string): Promise<boolean> {
  const { stdout } = await run('findmnt', ['-n', '-o', 'OPTIONS', '--mountpoint', path]);
  return stdout.split(',').includes('ro');
}
