import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/log.js';
import { DropFolder } from '../../src/sketches/drop-folder.js';
import { tempDir } from '../helpers/tmp.js';
import { sleep, waitFor } from '../helpers/wait.js';

const settleMs = 400;

describe('DropFolder', () => {
  let dir: { path: string; remove(): Promise<void> };
  let n = 0;

  before(async () => {
    dir = await tempDir('ac-drop-');
  });
  after(() => dir.remove());

  interface Delivery {
    name: string;
    content: Buffer;
  }

  /** A drop folder whose onFile, like the sketch manager's, moves each file out into `installed`. */
  const startDrop = async (options: { onFile?: (path: string) => Promise<void>; prepare?: (folder: string) => Promise<void> } = {}) => {
    const root = join(dir.path, `case${++n}`);
    const folder = join(root, 'drop', 'nested');
    const installed = join(root, 'installed');
    await mkdir(installed, { recursive: true });
    await options.prepare?.(folder);
    const deliveries: Delivery[] = [];
    const logs: string[] = [];
    const drop = new DropFolder({
      folder,
      settleMs,
      // Rescans as often as the settle time, so that the tests also see them at work.
      rescanMs: settleMs,
      log: createLogger({ level: 'debug', write: (l) => void logs.push(l) }),
      onFile:
        options.onFile ??
        (async (path) => {
          const name = path.slice(folder.length + 1);
          deliveries.push({ name, content: await readFile(path) });
          await rename(path, join(installed, name));
        }),
    });
    await drop.start();
    return { drop, folder, installed, deliveries, logs };
  };

  it('creates a missing folder, owner-only', async () => {
    const { drop, folder } = await startDrop();
    try {
      const info = await stat(folder);
      assert.ok(info.isDirectory());
      assert.equal(info.mode & 0o077, 0);
    } finally {
      await drop.stop();
    }
  });

  it('hands over a file written slowly in pieces once, only after it stopped growing', async () => {
    const { drop, folder, installed, deliveries } = await startDrop();
    try {
      const pieces = Array.from({ length: 8 }, () => randomBytes(32 * 1024));
      const whole = Buffer.concat(pieces);
      const file = await open(join(folder, 'sketch.bin'), 'w');
      for (const piece of pieces) {
        await file.write(piece);
        // Pauses shorter than the settle time: the copy is still in progress.
        await sleep(settleMs / 5);
      }
      await file.close();
      await waitFor(() => deliveries.length > 0, 'the file to be handed over');
      assert.equal(deliveries[0]!.name, 'sketch.bin');
      assert.ok(deliveries[0]!.content.equals(whole), `handed over ${deliveries[0]!.content.length} of ${whole.length} bytes`);
      assert.ok((await readFile(join(installed, 'sketch.bin'))).equals(whole));
      // Several settle periods and rescans later, still exactly one hand-over.
      await sleep(settleMs * 4);
      assert.equal(deliveries.length, 1);
    } finally {
      await drop.stop();
    }
  });

  it('hands over files that were already there at start', async () => {
    const { drop, deliveries } = await startDrop({
      prepare: async (folder) => {
        await mkdir(folder, { recursive: true, mode: 0o700 });
        await writeFile(join(folder, 'early'), 'was here first');
      },
    });
    try {
      await waitFor(() => deliveries.length === 1, 'the existing file to be handed over');
      assert.deepEqual(deliveries.map((d) => [d.name, d.content.toString()]), [['early', 'was here first']]);
    } finally {
      await drop.stop();
    }
  });

  it('hands over a name again when a new file arrives under it', async () => {
    const { drop, folder, deliveries } = await startDrop();
    try {
      await writeFile(join(folder, 'again'), 'first');
      await waitFor(() => deliveries.length === 1, 'the first file');
      await writeFile(join(folder, 'again'), 'second');
      await waitFor(() => deliveries.length === 2, 'the second file');
      assert.deepEqual(deliveries.map((d) => d.content.toString()), ['first', 'second']);
    } finally {
      await drop.stop();
    }
  });

  it('ignores folders, symbolic links and hidden (partial) files', async () => {
    const { drop, folder, deliveries } = await startDrop();
    try {
      await mkdir(join(folder, 'a-folder'));
      await symlink('/etc/hostname', join(folder, 'a-link'));
      await writeFile(join(folder, '.partial.tmp'), 'in progress');
      await writeFile(join(folder, 'real'), 'a sketch');
      await waitFor(() => deliveries.length === 1, 'the regular file');
      await sleep(settleMs * 3);
      assert.deepEqual(deliveries.map((d) => d.name), ['real']);
    } finally {
      await drop.stop();
    }
  });

  it('does not retry a file whose hand-over failed until it changes', async () => {
    const attempts: string[] = [];
    const { drop, folder, logs } = await startDrop({
      onFile: async (path) => {
        attempts.push((await readFile(path)).toString());
        throw new Error('not a program');
      },
    });
    try {
      await writeFile(join(folder, 'bad'), 'v1');
      await waitFor(() => attempts.length === 1, 'the first attempt');
      await sleep(settleMs * 3);
      assert.deepEqual(attempts, ['v1']);
      assert.ok(logs.some((l) => /ERROR .*installing .*bad failed: not a program/.test(l)));
      await writeFile(join(folder, 'bad'), 'v2, fixed');
      await waitFor(() => attempts.length === 2, 'the attempt after the change');
      assert.deepEqual(attempts, ['v1', 'v2, fixed']);
    } finally {
      await drop.stop();
    }
  });

  it('hands files over one at a time, and stop() waits for the one in progress', async () => {
    let active = 0;
    let most = 0;
    const done: string[] = [];
    const { drop, folder } = await startDrop({
      onFile: async (path) => {
        active++;
        most = Math.max(most, active);
        await sleep(100);
        done.push(path);
        active--;
      },
    });
    await Promise.all(['one', 'two', 'three'].map((name) => writeFile(join(folder, name), name)));
    await waitFor(() => done.length >= 1, 'a first hand-over');
    await drop.stop();
    assert.equal(active, 0, 'stop() resolved while onFile was running');
    assert.equal(most, 1);
    const count = done.length;
    await writeFile(join(folder, 'after-stop'), 'ignored');
    await sleep(settleMs * 3);
    assert.equal(done.length, count, 'nothing is handed over after stop()');
  });

  it('refuses to watch a folder others may write to', async () => {
    const { drop, folder, deliveries, logs } = await startDrop({
      prepare: async (folder) => {
        await mkdir(folder, { recursive: true });
        await chmod(folder, 0o777);
      },
    });
    try {
      assert.ok(logs.some((l) => l.includes(`drop folder ${folder} is not watched: others may write to it`)));
      await writeFile(join(folder, 'planted'), 'malicious');
      await sleep(settleMs * 3);
      assert.deepEqual(deliveries, []);
    } finally {
      await drop.stop();
    }
  });
});
