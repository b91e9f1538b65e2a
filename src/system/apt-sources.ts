// apt's repositories, read and edited in place: one-line files (sources.list, sources.list.d/*.list,
// src/system/apt-sources/one-line.ts) and deb822 files (sources.list.d/*.sources, deb822.ts).
// Only the lines of the repository concerned change: comments, options and unrelated lines stay
// byte for byte. Files are replaced atomically, the old one kept as .bak.

import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConflictError, NotFoundError } from '../errors.js';
import { writeFileAtomic } from '../lib/atomic-file.js';
import { SerialQueue } from '../lib/serial-queue.js';
import { deb822Format } from './apt-sources/deb822.js';
import { assertWritable, formatSourceLine, oneLineFormat } from './apt-sources/one-line.js';
import { normaliseRepository, sameRepository, type RepositoryFields, type RepositoryInput, type SourcesFormat } from './apt-sources/repository.js';

export type { RepositoryFields, RepositoryInput } from './apt-sources/repository.js';

export const MANAGED_FILE = 'managed.list';

export interface RepositoryLocation {
  repo: RepositoryFields;
  file: string;
}

interface SourceFile {
  path: string;
  format: SourcesFormat;
  lines: string[];
}

export class AptSources {
  private readonly changes = new SerialQueue();

  /** `configDir` is apt's configuration folder (settings.apt_config_dir, default /etc/apt). */
  constructor(private readonly configDir: string) {}

  private get partsDir(): string {
    return join(this.configDir, 'sources.list.d');
  }

  /** Changes one at a time, so two edits never read the same old file. */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    return this.changes.run(work);
  }

  private async files(): Promise<SourceFile[]> {
    const paths: { path: string; format: SourcesFormat }[] = [{ path: join(this.configDir, 'sources.list'), format: oneLineFormat }];
    let names: string[] = [];
    try {
      names = (await readdir(this.partsDir)).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    // apt reads only these names; backups, ".disabled" copies and the like are not sources.
    for (const name of names) {
      if (!/^[A-Za-z0-9_.-]+$/.test(name)) continue;
      if (name.endsWith('.list')) paths.push({ path: join(this.partsDir, name), format: oneLineFormat });
      else if (name.endsWith('.sources')) paths.push({ path: join(this.partsDir, name), format: deb822Format });
    }
    const files: SourceFile[] = [];
    for (const { path, format } of paths) {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'EISDIR') continue;
        throw err;
      }
      files.push({ path, format, lines: text.split('\n') });
    }
    return files;
  }

  private static entries(file: SourceFile): RepositoryLocation[] {
    return file.format.entries(file.lines).map((repo) => ({ repo, file: file.path }));
  }

  /** Every repository, in the order apt reads them. */
  async list(): Promise<RepositoryLocation[]> {
    return (await this.files()).flatMap((f) => AptSources.entries(f));
  }

  async add(input: RepositoryInput): Promise<void> {
    const repo = normaliseRepository(input);
    assertWritable(repo);
    await this.exclusive(async () => {
      const existing = (await this.list()).find((l) => sameRepository(l.repo, repo));
      if (existing) throw new ConflictError(`the repository "${formatSourceLine(repo)}" is already configured in ${existing.file}`);
      const path = join(this.partsDir, MANAGED_FILE);
      await mkdir(this.partsDir, { recursive: true });
      let current = '';
      try {
        current = await readFile(path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      const separator = current === '' || current.endsWith('\n') ? '' : '\n';
      await writeFileAtomic(path, `${current}${separator}${formatSourceLine(repo)}\n`, { backup: true });
    });
  }

  async remove(input: RepositoryInput): Promise<void> {
    const repo = normaliseRepository(input);
    await this.exclusive(async () => {
      let found = false;
      for (const file of await this.files()) {
        const next = file.format.replace(file.lines, repo);
        if (!next) continue;
        found = true;
        await writeFileAtomic(file.path, next.join('\n'), { backup: true });
      }
      if (!found) throw new NotFoundError(`no such repository: "${formatSourceLine(repo)}"`);
    });
  }

  async edit(oldInput: RepositoryInput, newInput: RepositoryInput): Promise<void> {
    const oldRepo = normaliseRepository(oldInput);
    const newRepo = normaliseRepository(newInput);
    assertWritable(newRepo, 'new_repository');
    await this.exclusive(async () => {
      const files = await this.files();
      const all = files.flatMap((f) => AptSources.entries(f));
      if (!all.some((l) => sameRepository(l.repo, oldRepo))) throw new NotFoundError(`no such repository: "${formatSourceLine(oldRepo)}"`);
      const clash = !sameRepository(oldRepo, newRepo) && all.find((l) => sameRepository(l.repo, newRepo));
      if (clash) throw new ConflictError(`the repository "${formatSourceLine(newRepo)}" is already configured in ${clash.file}`);
      // The first occurrence becomes the new repository; duplicates of the old one go.
      let replaced = false;
      for (const file of files) {
        const next = file.format.replace(file.lines, oldRepo, replaced ? undefined : newRepo);
        if (!next) continue;
        replaced = true;
        await writeFileAtomic(file.path, next.join('\n'), { backup: true });
      }
    });
  }
}
