// A clean Debian 12 root for package tests: made once with mmdebstrap (minbase, from Debian's
// archive) and kept as a tarball in the checkout's git-ignored .test-tmp/, then unpacked into a
// throw-away folder for each test. No node in it: a clean machine as the package meets it.

import { spawn } from 'node:child_process';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runProcess } from './process.js';
import { tempDir } from './tmp.js';

const checkout = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const suite = 'bookworm';
/** Delete it to take a fresh root from the archive. */
export const cachedRootTarball = join(checkout, '.test-tmp', `debian-${suite}-minbase.tar`);

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function must(command: string, args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
  const result = await runProcess(command, args, { env: env ?? process.env });
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')}: exit ${result.code}: ${result.stderr || result.stdout}`);
  return result.stdout;
}

/** The cached tarball, made first if missing (about 35-50 s). */
export async function debianRootTarball(): Promise<string> {
  if (await exists(cachedRootTarball)) return cachedRootTarball;
  await mkdir(dirname(cachedRootTarball), { recursive: true });
  const partial = `${cachedRootTarball}.${process.pid}.partial`;
  try {
    // mmdebstrap guesses the format from the name, and this one ends in .partial: said outright.
    await must('mmdebstrap', ['--variant=minbase', '--format=tar', '--quiet', suite, partial]);
    await rename(partial, cachedRootTarball);
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
  return cachedRootTarball;
}

export interface DebianRoot {
  path: string;
  /** Runs a command in the root (chroot) with a clean environment; its output and exit code. */
  run(argv: string[], env?: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }>;
  remove(): Promise<void>;
}

const basePath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export async function unpackDebianRoot(): Promise<DebianRoot> {
  const tarball = await debianRootTarball();
  const dir = await tempDir('ac-debian-root-');
  await must('tar', ['-xf', tarball, '-C', dir.path]);
  return {
    path: dir.path,
    run: (argv, env = {}) => {
      const pairs = Object.entries({ PATH: basePath, ...env }).map(([k, v]) => `${k}=${v}`);
      return runProcess('chroot', [dir.path, '/usr/bin/env', '-i', ...pairs, ...argv]);
    },
    remove: () => dir.remove(),
  };
}

/** Starts `argv` in the root as systemd starts a unit's ExecStart (see test/helpers/unit-file.ts):
 * a clean environment, the working folder, and no shell left between it and the program, so the
 * child's pid is the program's. */
export function spawnInRoot(root: string, command: { argv: string[]; cwd: string; env: Record<string, string> }) {
  const pairs = Object.entries(command.env).map(([k, v]) => `${k}=${v}`);
  return spawn('chroot', [root, '/usr/bin/env', '-i', ...pairs, '/bin/sh', '-c', 'cd "$1" && shift && exec "$@"', 'sh', command.cwd, ...command.argv], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}
