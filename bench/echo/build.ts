// The core bench's C echo, compiled at bench time so it always matches its source and this
// machine's libmosquitto. Its build folder is gitignored.

import { execFile } from 'node:child_process';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { root } from '../agent.js';

const source = join(root, 'bench/echo/mosquitto-echo.c');
const buildDir = join(root, 'bench/echo/build');
export const mosquittoEchoBin = join(buildDir, 'mosquitto-echo');

async function mtimeMs(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).mtimeMs;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Compiles the echo if its binary is missing or older than its source; returns the binary's path. */
export async function buildMosquittoEcho(): Promise<string> {
  const built = await mtimeMs(mosquittoEchoBin);
  if (built !== undefined && built >= ((await mtimeMs(source)) ?? Infinity)) return mosquittoEchoBin;
  await mkdir(buildDir, { recursive: true });
  // Another bench may run at the same time: each compiles to its own file and the rename is
  // atomic, so nobody starts a half-written binary.
  const tmp = `${mosquittoEchoBin}.${process.pid}.tmp`;
  const hint = 'the core bench needs gcc and libmosquitto-dev (scripts/bootstrap.sh installs both)';
  try {
    await promisify(execFile)('gcc', ['-O2', '-Wall', '-Wextra', '-o', tmp, source, '-lmosquitto']);
  } catch (err) {
    await rm(tmp, { force: true });
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error(`gcc not found: ${hint}`);
    throw new Error(`could not compile ${source}: ${hint}\n${e.stderr ?? e.message}`);
  }
  await rename(tmp, mosquittoEchoBin);
  return mosquittoEchoBin;
}
