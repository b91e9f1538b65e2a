// Run by disks.test.ts inside a mount namespace of its own (unshare -m), so the hung file system
// it makes is seen by no other process: a FUSE mount whose server never answers, which is what a
// dead network mount looks like to statfs. It reads the disks repeatedly through one DiskReader,
// checks that plain fs calls still work, then lets the file system fail and prints what it saw.

import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskReader } from '../../src/system/disks.js';

function run(command: string, args: string[], stdio: ('ignore' | 'inherit' | number)[] = ['ignore', 'inherit', 'inherit']): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} exited with ${code}`))));
  });
}

const mountPoint = await mkdtemp(join(tmpdir(), 'ac-hung-mount-'));
const fuse = openSync('/dev/fuse', 'r+');
// The connection is the open /dev/fuse: mount(8) gets it as fd 3; nobody ever reads from it.
await run('mount', ['-t', 'fuse', '-o', 'fd=3,rootmode=40000,user_id=0,group_id=0', 'hung', mountPoint], ['ignore', 'inherit', 'inherit', fuse]);

const skips: string[] = [];
const reader = new DiskReader({ statfsTimeoutMs: 200, onSkipped: (path, reason) => path === mountPoint && skips.push(reason) });
const measuredOthers: number[] = [];
// More readings than libuv has threads (UV_THREADPOOL_SIZE=4): each one used to leave a thread behind.
for (let i = 0; i < 8; i++) measuredOthers.push((await reader.read()).length);
// A plain fs call still gets a thread.
const fsCallWorked = (await readFile('/proc/self/mountinfo', 'utf8')).includes(mountPoint);
const stuckWhileHung = reader.stuckMounts;

// The server goes away: the pending statfs fails (ENOTCONN) and the mount is tried again.
closeSync(fuse);
while (reader.stuckMounts.length > 0) await new Promise((resolve) => setTimeout(resolve, 10));
await reader.read();

await run('umount', ['-l', mountPoint]);
await rmdir(mountPoint);
process.stdout.write(JSON.stringify({ mountPoint, skips, measuredOthers, fsCallWorked, stuckWhileHung }));
