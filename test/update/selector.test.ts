// The selector (bin/start) as sh runs it, over release folders whose launcher only says which
// release it is: which release starts, how starts on probation are counted, when and how it rolls
// back, and what it writes.

import assert from 'node:assert/strict';
import { chmod, lstat, mkdir, readlink, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readUpdateState, writeUpdateState, type UpdateState } from '../../src/update/releases.js';
import { renderSelector } from '../../src/update/selector.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { runProcess } from '../helpers/process.js';
import { tempDir } from '../helpers/tmp.js';

let work: Awaited<ReturnType<typeof tempDir>>;
let cases = 0;

before(async () => {
  work = await tempDir('ac-selector-');
});
after(async () => {
  await work?.remove();
});

/** A release folder whose launcher prints "<name> <args>". */
async function fakeRelease(dir: string, name: string): Promise<void> {
  await mkdir(join(dir, 'bin'), { recursive: true });
  await writeFile(join(dir, 'bin/arduino-connector'), `#!/bin/sh\necho "${name} $*"\n`);
  await chmod(join(dir, 'bin/arduino-connector'), 0o755);
}

async function device(packagedVersion = '1.0.0', env: Record<string, string> = {}) {
  const root = join(work.path, `case-${++cases}`);
  const packaged = join(root, 'usr-lib');
  await fakeRelease(packaged, 'packaged');
  await writeFile(join(packaged, 'bin/start'), renderSelector(packagedVersion));
  await chmod(join(packaged, 'bin/start'), 0o755);
  const releases = join(root, 'releases');
  await mkdir(releases);
  const start = async () => {
    const run = await runProcess(join(packaged, 'bin/start'), ['-x'], { env: { PATH: process.env.PATH, RELEASES_PATH: releases, CONFIG: join(root, 'none.cfg'), ...env } });
    assert.equal(run.code, 0, run.stderr);
    return run.stdout.trim();
  };
  const add = async (version: string) => fakeRelease(join(releases, version), version);
  const link = async (name: 'current' | 'previous', version: string) => symlink(version, join(releases, name));
  const state = (s: Partial<UpdateState>) => writeUpdateState(releases, { version: '', from: '1.0.0', phase: 'probation', starts: 0, since: 0, reason: '', reported: false, ...s });
  return { root, releases, start, add, link, state };
}

describe('the selector', () => {
  it('starts the packaged release without an update, and current when there is one', async () => {
    const d = await device();
    assert.equal(await d.start(), 'packaged -x');
    await d.add('2.0.0');
    await d.link('current', '2.0.0');
    assert.equal(await d.start(), '2.0.0 -x');
  });

  it('counts starts on probation and rolls back to previous on the fourth', async () => {
    const d = await device();
    await d.add('2.0.0');
    await d.add('3.0.0');
    await d.link('previous', '2.0.0');
    await d.link('current', '3.0.0');
    await d.state({ version: '3.0.0', from: '2.0.0' });
    for (const n of [1, 2, 3]) {
      assert.equal(await d.start(), '3.0.0 -x');
      assert.equal((await readUpdateState(d.releases))?.starts, n);
    }
    assert.equal(await d.start(), '2.0.0 -x');
    assert.equal(await readlink(join(d.releases, 'current')), '2.0.0');
    assert.deepEqual(await readUpdateState(d.releases), { version: '3.0.0', from: '2.0.0', phase: 'rolled-back', starts: 3, since: 0, reason: 'exited 3 times before answering status', reported: false });
    // The state file stays private, as the agent writes it.
    assert.equal((await lstat(join(d.releases, 'state'))).mode & 0o777, 0o600);
  });

  it('rolls back to the packaged release when there is no previous, with the reason an expired release wrote', async () => {
    const d = await device();
    await d.add('2.0.0');
    await d.link('current', '2.0.0');
    await d.state({ version: '2.0.0', phase: 'expired', starts: 1, reason: 'not connected and answering status within 120 s' });
    assert.equal(await d.start(), 'packaged -x');
    await assert.rejects(lstat(join(d.releases, 'current')));
    const state = await readUpdateState(d.releases);
    assert.equal(state?.phase, 'rolled-back');
    assert.equal(state?.reason, 'not connected and answering status within 120 s');
  });

  it('records an update killed between its state and its switch as rolled back, and leaves a committed one alone', async () => {
    const d = await device();
    await d.add('2.0.0');
    await d.state({ version: '2.0.0' });
    assert.equal(await d.start(), 'packaged -x');
    assert.equal((await readUpdateState(d.releases))?.reason, 'interrupted before the switch');

    await d.link('current', '2.0.0');
    await d.state({ version: '2.0.0', phase: 'committed', starts: 1 });
    assert.equal(await d.start(), '2.0.0 -x');
    assert.equal((await readUpdateState(d.releases))?.phase, 'committed');
  });

  it('starts a packaged release newer than the update (the .deb was upgraded since)', async () => {
    const d = await device('4.0.0');
    await d.add('2.0.0');
    await d.link('current', '2.0.0');
    assert.equal(await d.start(), 'packaged -x');
    await assert.rejects(lstat(join(d.releases, 'current')));
  });

  describe('on a read-only file system', () => {
    const run = promisify(execFile);
    const readOnly = async (path: string) => (await run('findmnt', ['-n', '-o', 'OPTIONS', '--mountpoint', path])).stdout.trim().split(',').includes('ro');

    /** A device whose releases folder is a tmpfs of its own, with 3.0.0 on probation over 2.0.0, made read-only. */
    async function readOnlyDevice(env: Record<string, string>) {
      const d = await device('1.0.0', env);
      await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', d.releases]);
      await d.add('2.0.0');
      await d.add('3.0.0');
      await d.link('previous', '2.0.0');
      await d.link('current', '3.0.0');
      await d.state({ version: '3.0.0', from: '2.0.0' });
      await run('mount', ['-o', 'remount,ro', d.releases]);
      return d;
    }

    it('runs the previous release when it cannot count a start (never an uncounted start on probation)', async (t) => {
      const d = await readOnlyDevice({});
      t.after(() => run('umount', [d.releases]).catch(() => {}));
      for (let i = 0; i < 4; i++) assert.equal(await d.start(), '2.0.0 -x');
      assert.equal((await readUpdateState(d.releases))?.starts, 0);
      assert.equal(await readlink(join(d.releases, 'current')), '3.0.0');
    });

    it('with check_ro_fs, remounts the folder read-write to count and roll back, and read-only after', async (t) => {
      const d = await readOnlyDevice({ CHECK_RO_FS: 'true' });
      t.after(() => run('umount', [d.releases]).catch(() => {}));
      for (const n of [1, 2, 3]) {
        assert.equal(await d.start(), '3.0.0 -x');
        assert.equal((await readUpdateState(d.releases))?.starts, n);
        assert.equal(await readOnly(d.releases), true);
      }
      assert.equal(await d.start(), '2.0.0 -x');
      assert.equal(await readlink(join(d.releases, 'current')), '2.0.0');
      assert.equal((await readUpdateState(d.releases))?.phase, 'rolled-back');
      assert.equal(await readOnly(d.releases), true);
    });
  });
});
