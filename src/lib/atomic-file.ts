// Files the agent owns (sketch table, config, apt sources) are replaced atomically: a reader or a
// power cut sees the old file or the new one, never half of either.

import { randomBytes } from 'node:crypto';
import { open, rename, unlink, copyFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteOptions {
  mode?: number;
  /** Keep the previous content as `<file>.bak` (same folder) before replacing. */
  backup?: boolean;
}

/** New content written and flushed next to its file, not in place yet. */
export interface StagedFile {
  path: string;
  /** Moves the content in place (and the folder entry to disk). */
  commit(): Promise<void>;
  /** Removes the staged content; the file stays as it was. */
  discard(): Promise<void>;
}

/** Writes `data` to a temporary file beside `path`: several files can be staged, then committed
 * together once all of them are written, so a failure halfway replaces none. */
export async function stageFile(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<StagedFile> {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let mode = options.mode;
  if (mode === undefined) {
    try {
      mode = (await stat(path)).mode & 0o7777;
    } catch {
      mode = 0o644;
    }
  }
  const handle = await open(temp, 'wx', mode);
  try {
    await handle.writeFile(data);
    await handle.chmod(mode);
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => {});
    await unlink(temp).catch(() => {});
    throw err;
  }
  await handle.close();
  const discard = () => unlink(temp).catch(() => {});
  const commit = async () => {
    try {
      if (options.backup) await copyFile(path, `${path}.bak`).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
      await rename(temp, path);
    } catch (err) {
      await discard();
      throw err;
    }
    // The rename is durable only once the folder's entry is on disk.
    const folder = await open(dir, 'r');
    try {
      await folder.sync();
    } finally {
      await folder.close();
    }
  };
  return { path, commit, discard };
}

export async function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  await (await stageFile(path, data, options)).commit();
}
