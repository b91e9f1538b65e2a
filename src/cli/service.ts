// `-install` / `-uninstall [-purge]` on the command line (src/service/install.ts does the work).

import { existsSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors.js';
import { findRelease, installService, uninstallService, type ServiceTarget } from '../service/install.js';
import type { ParsedArgs } from './options.js';

/** A switch given as `-x`, `-x=true` (parseArgs keeps the text of `-x=false` as "false"). */
const on = (value: string | true | undefined): boolean => value === true || value === 'true';

export async function runServiceAction(args: ParsedArgs): Promise<number> {
  const install = on(args.flags.install);
  const uninstall = on(args.flags.uninstall);
  const purge = on(args.flags.purge);
  if (install === uninstall) throw new ConfigError(install ? '-install and -uninstall exclude each other' : 'expected -install or -uninstall');
  if (purge && !uninstall) throw new ConfigError('-purge goes with -uninstall');
  const rootFlag = args.flags.root;
  const root = typeof rootFlag === 'string' ? rootFlag : '/';
  if (!isAbsolute(root)) throw new ConfigError(`-root: expected an absolute path, got "${root}"`);
  if (root === '/' && process.getuid?.() !== 0) throw new ConfigError('-install and -uninstall change system folders: run them as root');
  const target: ServiceTarget = {
    root,
    // As sd_booted(3) tells: /run/systemd/system exists only when systemd is the init system.
    systemd: root === '/' && existsSync('/run/systemd/system'),
    report: (line) => process.stdout.write(`${line}\n`),
  };
  if (uninstall) {
    await uninstallService(target, { purge });
    return 0;
  }
  const release = await findRelease(fileURLToPath(import.meta.url));
  if (!release) throw new ConfigError('-install installs a release: run it from an unpacked release tarball (npm run release builds one), not from a checkout');
  await installService(target, release);
  return 0;
}
