// The -check_ro_fs wrapper on a tmpfs mounted read-only by the test itself.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { open, readFile, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { FailedError } from '../../src/errors.js';
import { WritableMount } from '../../src/system/ro-fs.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);

async function readOnly(path: string): Promise<boolean> {
  const { stdout } = await run('findmnt', ['-n', '-o', 'OPTIONS', '--mountpoint', path]);
  return stdout.trim().split(',').includes('ro');
}

describe('WritableMount on a read-only tmpfs', () => {
  let dir: { path: string; remove(): Promise<void> };

  before(async () => {
    dir = await tempDir('ac-rofs-');
    await run('mount', ['-t', 'tmpfs', '-o', 'size=1m,ro', 'tmpfs', dir.path]);
  });
  after(async () => {
    await run('umount', [dir.path]).catch(() => {});
    await dir.remove();
  });

  it('makes it writable for the work only', async () => {
    const mount = new WritableMount({ enabled: true, mountPoint: dir.path });
    await assert.rejects(writeFile(join(dir.path, 'before'), 'x'), /EROFS/);
    const result = await mount.around(async () => {
      assert.equal(await readOnly(dir.path), false);
      await writeFile(join(dir.path, 'during'), 'written');
      return 42;
    });
    assert.equal(result, 42);
    assert.equal(await readFile(join(dir.path, 'during'), 'utf8'), 'written');
    assert.equal(await readOnly(dir.path), true);
    await assert.rejects(writeFile(join(dir.path, 'after'), 'x'), /EROFS/);
  });

  it('goes back to read-only when the work fails', async () => {
    const mount = new WritableMount({ enabled: true, mountPoint: dir.path });
    await assert.rejects(mount.around(async () => Promise.reject(new Error('apt failed'))), /apt failed/);
    assert.equal(await readOnly(dir.path), true);
  });

  it('keeps one writable window across overlapping work', async () => {
    const mount = new WritableMount({ enabled: true, mountPoint: dir.path });
    let releaseFirst!: () => void;
    const firstMayEnd = new Promise<void>((r) => (releaseFirst = r));
    let secondDone = false;
    const first = mount.around(async () => {
      await firstMayEnd;
      // The second ended meanwhile; the file system must still be writable for this one.
      assert.ok(secondDone);
      await writeFile(join(dir.path, 'first'), 'x');
    });
    const second = mount.around(async () => {
      await writeFile(join(dir.path, 'second'), 'x');
      secondDone = true;
    });
    await second;
    assert.equal(await readOnly(dir.path), false);
    releaseFirst();
    await first;
    assert.equal(await readOnly(dir.path), true);
  });

  it('says so when it cannot go back to read-only (a file still open for writing)', async () => {
    const mount = new WritableMount({ enabled: true, mountPoint: dir.path });
    let handle: FileHandle | undefined;
    try {
      await assert.rejects(
        mount.around(async () => {
          handle = await open(join(dir.path, 'held-open'), 'w');
        }),
        (err: Error) => err instanceof FailedError && /cannot remount .* read-only.*\(the command completed\)/s.test(err.message),
      );
    } finally {
      await handle?.close();
    }
    // Once the writer is gone, the next command puts it back to read-only.
    await mount.around(async () => {});
    assert.equal(await readOnly(dir.path), true);
  });

  it('does nothing when disabled', async () => {
    const mount = new WritableMount({ enabled: false, mountPoint: dir.path });
    await mount.around(async () => {
      assert.equal(await readOnly(dir.path), true);
    });
  });

  it('reports a mount point that cannot be remounted, and runs nothing', async () => {
    const mount = new WritableMount({ enabled: true, mountPoint: join(dir.path, 'not-a-mount-point') });
    let ran = false;
    await assert.rejects(
      mount.around(async () => {
        ran = true;
      }),
      (err: Error) => err instanceof FailedError && /cannot remount .* read-write/.test(err.message),
    );
    assert.equal(ran, false);
  });
});
