// A file whose opening never returns and cannot be killed (stuck-fuse.child.ts): for tests of what
// the agent does with a process SIGKILL cannot end, on any kernel with /dev/fuse.

import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from './tmp.js';
import { waitFor } from './wait.js';

export interface StuckFuse {
  /** Opening this path holds the process that does it in the kernel (state D once signalled). */
  stuckPath: string;
  /** The pids the file system holds now. */
  held(): number[];
  /** Ends the file system: what it held is let go (and dies of its pending SIGKILL). */
  close(): Promise<void>;
}

const child = fileURLToPath(new URL('./stuck-fuse.child.ts', import.meta.url));

export async function startStuckFuse(): Promise<StuckFuse> {
  const dir = await tempDir('ac-stuck-fuse-');
  const mountPoint = join(dir.path, 'mnt');
  await mkdir(mountPoint);
  const server = spawn(process.execPath, ['--import', 'tsx', child, mountPoint], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  server.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await waitFor(() => output.includes('ready\n') || server.exitCode !== null, 'the FUSE file system to be mounted');
  if (!output.includes('ready\n')) throw new Error(`the FUSE server exited with ${server.exitCode}`);
  let closed = false;
  return {
    stuckPath: join(mountPoint, 'stuck'),
    held: () => [...output.matchAll(/^stuck (\d+)$/gm)].map((m) => Number(m[1])),
    async close() {
      if (closed) return;
      closed = true;
      if (server.exitCode === null) {
        server.kill('SIGKILL');
        await once(server, 'exit');
      }
      spawnSync('umount', ['-l', mountPoint]);
      await rmdir(mountPoint).catch(() => {});
      await dir.remove();
    },
  };
}
