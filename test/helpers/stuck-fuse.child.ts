// A FUSE file system whose file `stuck` can never be opened: its server takes the kernel's LOOKUP of
// that name and never answers it. A process that asked is then in uninterruptible sleep (state D)
// and a SIGKILL stays pending, because the kernel waits out a request the server has already taken.
// That holds on any kernel with /dev/fuse, with cgroup v1 or v2 (v2's cgroup.freeze cannot do it:
// a frozen process dies of SIGKILL). The root and statfs are answered, so `df` and the agent's
// disk reading are not held up. Ending this process (any signal) aborts the connection and the
// stuck LOOKUP fails, so the pending SIGKILL ends the process that made it.
//
// Usage: node --import tsx stuck-fuse.child.ts MOUNTPOINT; prints `ready` once mounted and
// `stuck <pid>` when a process is held.

import { spawnSync } from 'node:child_process';
import { openSync, readSync, writeSync } from 'node:fs';

const mountPoint = process.argv[2]!;
const fuse = openSync('/dev/fuse', 'r+');
const mounted = spawnSync('mount', ['-t', 'fuse', '-o', 'fd=3,rootmode=40000,user_id=0,group_id=0,allow_other', 'ac-stuck', mountPoint], { stdio: ['ignore', 'inherit', 'inherit', fuse] });
if (mounted.status !== 0) process.exit(2);
process.stdout.write('ready\n');

const LOOKUP = 1;
const FORGET = 2;
const GETATTR = 3;
const STATFS = 17;
const INIT = 26;
const INTERRUPT = 36;
const BATCH_FORGET = 42;
const ENOENT = 2;
const ENOSYS = 38;

function reply(unique: bigint, error: number, body: Buffer = Buffer.alloc(0)): void {
  const header = Buffer.alloc(16);
  header.writeUInt32LE(16 + body.length, 0);
  header.writeInt32LE(-error, 4);
  header.writeBigUInt64LE(unique, 8);
  writeSync(fuse, Buffer.concat([header, body]));
}

function initReply(): Buffer {
  const out = Buffer.alloc(64);
  out.writeUInt32LE(7, 0); // major
  out.writeUInt32LE(31, 4); // minor
  out.writeUInt32LE(0, 8); // max_readahead
  out.writeUInt32LE(0, 12); // flags
  out.writeUInt16LE(16, 16); // max_background
  out.writeUInt16LE(12, 18); // congestion_threshold
  out.writeUInt32LE(4096, 20); // max_write
  out.writeUInt32LE(1, 24); // time_gran
  return out;
}

/** fuse_attr_out for the root folder, valid for an hour. */
function rootAttr(): Buffer {
  const out = Buffer.alloc(104);
  out.writeBigUInt64LE(3600n, 0); // attr_valid
  const attr = 16;
  out.writeBigUInt64LE(1n, attr); // ino
  out.writeUInt32LE(0o40755, attr + 60); // mode
  out.writeUInt32LE(2, attr + 64); // nlink
  out.writeUInt32LE(4096, attr + 80); // blksize
  return out;
}

const buffer = Buffer.alloc(132 * 1024);
for (;;) {
  let length: number;
  try {
    length = readSync(fuse, buffer, 0, buffer.length, null);
  } catch {
    // Unmounted: the connection is gone.
    process.exit(0);
  }
  const opcode = buffer.readUInt32LE(4);
  const unique = buffer.readBigUInt64LE(8);
  const nodeid = buffer.readBigUInt64LE(16);
  const pid = buffer.readUInt32LE(32);
  if (opcode === INIT) reply(unique, 0, initReply());
  else if (opcode === GETATTR && nodeid === 1n) reply(unique, 0, rootAttr());
  else if (opcode === STATFS) reply(unique, 0, Buffer.alloc(80));
  else if (opcode === LOOKUP) {
    const name = buffer.toString('utf8', 40, buffer.indexOf(0, 40));
    if (name === 'stuck' && nodeid === 1n) process.stdout.write(`stuck ${pid}\n`);
    else reply(unique, ENOENT);
  } else if (opcode === FORGET || opcode === BATCH_FORGET || opcode === INTERRUPT) {
    // No answer is expected (an interrupt of the stuck LOOKUP is ignored on purpose).
  } else if (length >= 40) reply(unique, ENOSYS);
}
