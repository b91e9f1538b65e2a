// Disk figures against `df` on this machine, and against tmpfs mounts the test makes itself.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, realpath, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { diskMounts, parseMountinfoLine, readDisks, readMountinfo, visibleMounts, type DiskUsage } from '../../src/system/disks.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);

interface DfRow {
  source: string;
  type: string;
  size: number;
  avail: number;
  target: string;
}

async function df(): Promise<DfRow[]> {
  const { stdout } = await run('df', ['-B1', '--output=source,fstype,size,avail,target']);
  return stdout
    .trimEnd()
    .split('\n')
    .slice(1)
    .map((line) => {
      const [source, type, size, avail, ...rest] = line.trim().split(/\s+/);
      return { source: source!, type: type!, size: Number(size), avail: Number(avail), target: rest.join(' ') };
    });
}

describe('mountinfo parsing', () => {
  it('reads the fields after the optional ones and undoes octal escapes', () => {
    const entry = parseMountinfoLine('36 35 98:0 /mnt1 /mnt\\040two rw,noatime master:1 shared:7 - ext3 /dev/root rw,errors=continue');
    assert.deepEqual(entry, {
      id: 36,
      parentId: 35,
      device: '98:0',
      root: '/mnt1',
      mountPoint: '/mnt two',
      mountOptions: 'rw,noatime',
      type: 'ext3',
      source: '/dev/root',
    });
    const plain = parseMountinfoLine('22 27 0:21 / /proc rw,relatime - proc proc rw');
    assert.equal(plain?.type, 'proc');
    assert.equal(plain?.mountPoint, '/proc');
  });

  it('ignores lines that are not mount entries', () => {
    assert.equal(parseMountinfoLine(''), undefined);
    assert.equal(parseMountinfoLine('1 2 3 4 5 6 7 8 9 10'), undefined);
  });

  it('hides a covered mount and what was mounted inside it, keeps the one on top', () => {
    const lines = [
      '1 0 8:1 / / rw - ext4 /dev/sda1 rw',
      '2 1 0:40 / /data rw - tmpfs first rw',
      '3 2 0:41 / /data/inner rw - tmpfs inner rw',
      '4 2 0:42 / /data rw - tmpfs second rw',
    ];
    const entries = lines.map((l) => parseMountinfoLine(l)!);
    assert.deepEqual(
      visibleMounts(entries).map((e) => e.source),
      ['/dev/sda1', 'second'],
    );
  });

  it('lists each device once, preferring its own root, and drops pseudo file systems', () => {
    const lines = [
      '1 0 8:1 / / rw - ext4 /dev/sda1 rw',
      '2 1 0:5 / /proc rw - proc proc rw',
      '3 1 8:1 /srv /srv-bind rw - ext4 /dev/sda1 rw',
      '4 1 0:50 / /run rw - tmpfs tmpfs rw',
      '5 1 0:51 / /mnt/none rw - none none rw',
      '6 1 0:52 / /mnt/bound rw,bind - none none rw',
    ];
    const mounts = diskMounts(lines.map((l) => parseMountinfoLine(l)!));
    assert.deepEqual(
      mounts.map((m) => m.mountPoint),
      ['/', '/run', '/mnt/bound'],
    );
  });
});

describe('disks on this machine', () => {
  it('lists what df lists by default, with the same sizes', async () => {
    const [ours, theirs] = await Promise.all([readDisks(), df()]);
    // Other test files may mount their own file systems under the temporary folder meanwhile.
    const temp = await realpath(tmpdir());
    const settled = (path: string) => !path.startsWith(`${temp}/`) && !path.startsWith(`${tmpdir()}/`);
    const dfRows = theirs.filter((r) => settled(r.target));
    const ourRows = ours.filter((d) => settled(d.mountPoint));
    assert.deepEqual(ourRows.map((d) => d.mountPoint).sort(), dfRows.map((r) => r.target).sort());
    for (const row of dfRows) {
      const disk = ourRows.find((d) => d.mountPoint === row.target)!;
      assert.equal(disk.device, row.source);
      assert.equal(disk.type, row.type);
      assert.equal(disk.sizeBytes, row.size);
      // Free space moves with whatever else writes meanwhile; only gross mistakes are caught.
      assert.ok(Math.abs(disk.availableBytes - row.avail) <= Math.max(256 * 1024 * 1024, row.size / 100), `${row.target} available`);
      assert.ok(disk.availableBytes <= disk.freeBytes && disk.freeBytes <= disk.sizeBytes, `${row.target} figures`);
    }
    assert.ok(ourRows.some((d) => d.mountPoint === '/'));
    for (const pseudo of ['/proc', '/sys']) assert.ok(!ours.some((d) => d.mountPoint === pseudo), `${pseudo} listed`);
  });

  describe('with its own tmpfs mounts', () => {
    let dir: { path: string; remove(): Promise<void> };
    let first: string;
    let bound: string;
    const mounted: string[] = [];
    const mount = async (...args: string[]) => {
      await run('mount', args);
      mounted.unshift(args[args.length - 1]!);
    };
    const find = async (mountPoint: string): Promise<DiskUsage[]> =>
      (await readDisks()).filter((d) => d.mountPoint === mountPoint);

    before(async () => {
      dir = await tempDir('ac-disks-');
      first = join(await realpath(dir.path), 'a mount point');
      bound = join(await realpath(dir.path), 'bound');
      await mkdir(first);
      await mkdir(bound);
    });
    after(async () => {
      for (const path of mounted) await run('umount', [path]).catch(() => {});
      await dir.remove();
    });

    it('measures a new mount exactly, even with a space in its path', async () => {
      await mount('-t', 'tmpfs', '-o', 'size=8m', 'ac-disks-test', first);
      const [disk] = await find(first);
      assert.deepEqual(disk, {
        device: 'ac-disks-test',
        type: 'tmpfs',
        mountPoint: first,
        freeBytes: 8 * 1024 * 1024,
        availableBytes: 8 * 1024 * 1024,
        sizeBytes: 8 * 1024 * 1024,
      });
      await writeFile(join(first, 'one-mib'), Buffer.alloc(1024 * 1024, 1));
      const [after] = await find(first);
      assert.equal(after?.freeBytes, 7 * 1024 * 1024);
    });

    it('lists a bind-mounted file system once', async () => {
      await mount('--bind', first, bound);
      const entries = (await readMountinfo()).filter((e) => e.mountPoint === first || e.mountPoint === bound);
      assert.equal(entries.length, 2);
      const disks = (await readDisks()).filter((d) => d.device === 'ac-disks-test');
      const dfRows = (await df()).filter((r) => r.source === 'ac-disks-test');
      assert.equal(disks.length, 1);
      assert.equal(dfRows.length, 1);
      // Both are the same file system: the one df picks (the shorter path) is the one listed.
      assert.equal(disks[0]?.mountPoint, dfRows[0]?.target);
    });

    it('reports the mount on top when one is mounted over another', async () => {
      await mount('-t', 'tmpfs', '-o', 'size=4m', 'ac-disks-over', first);
      const disks = await find(first);
      assert.equal(disks.length, 1);
      assert.equal(disks[0]?.device, 'ac-disks-over');
      assert.equal(disks[0]?.sizeBytes, 4 * 1024 * 1024);
      // The bind mount still shows the file system that is now covered.
      const [covered] = await find(bound);
      assert.equal(covered?.device, 'ac-disks-test');
      assert.equal(covered?.freeBytes, 7 * 1024 * 1024);
    });
  });
});

describe('disks with a file system that never answers', () => {
  it('gives up on its statfs once, then leaves it out while that call is pending, so fs calls keep their threads', async () => {
    // In a mount namespace of its own, so no other process (a df of another test) meets the hung mount.
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const child = fileURLToPath(new URL('./hung-mount.child.ts', import.meta.url));
    const { stdout } = await run('unshare', ['--mount', '--propagation', 'private', process.execPath, '--import', 'tsx', child], {
      cwd: root,
      env: { ...process.env, UV_THREADPOOL_SIZE: '4' },
      // Without the fix the child hangs for good (every thread stuck); fail rather than wait forever.
      timeout: 120_000,
    });
    const seen = JSON.parse(stdout) as { mountPoint: string; skips: string[]; measuredOthers: number[]; fsCallWorked: boolean; stuckWhileHung: string[] };
    assert.equal(seen.skips.length, 9, JSON.stringify(seen.skips));
    assert.equal(seen.skips[0], 'statfs did not return within 200 ms');
    for (const reason of seen.skips.slice(1, 8)) assert.equal(reason, 'an earlier statfs of it has not returned yet');
    // Once the call failed, the mount was measured again (and failed as a dead FUSE mount does).
    assert.match(seen.skips[8]!, /ENOTCONN/);
    assert.equal(seen.fsCallWorked, true);
    assert.deepEqual(seen.stuckWhileHung, [seen.mountPoint]);
    // The other file systems were measured every time.
    assert.ok(seen.measuredOthers.every((n) => n > 0 && n === seen.measuredOthers[0]), JSON.stringify(seen.measuredOthers));
  });
});
