// A throw-away apt world for tests: .deb packages built on the spot with dpkg-deb, published as a
// local file repository with dpkg-scanpackages, and an apt configuration (APT_CONFIG) whose
// sources, lists and cache are temp folders, so nothing reaches the network and the system's
// lists are untouched. dpkg's database is the real one: what a test installs it must purge.

import { execFile } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from './tmp.js';

const run = promisify(execFile);

export interface TestPackage {
  name: string;
  version: string;
  /** Shell script run as postinst (e.g. a sleep to make a long command). */
  postinst?: string;
  /** Conffiles: absolute path → content. */
  conffiles?: Record<string, string>;
  /** The Description field: its first line is the summary, the others the long text. */
  description?: string;
  /** The Installed-Size field in KiB (dpkg-deb writes none by itself). */
  installedSize?: number;
}

export const defaultDescription = 'throw-away package of the arduino-connector tests';

export interface LocalAptRepo {
  /** Environment for apt, dpkg and the agent: the process's, plus APT_CONFIG. */
  env: NodeJS.ProcessEnv;
  root: string;
  /** Builds the package into the repository (call publish() afterwards). */
  add(pkg: TestPackage): Promise<void>;
  /** Regenerates the Packages index of the repository. */
  publish(): Promise<void>;
  remove(): Promise<void>;
}

export async function createLocalAptRepo(): Promise<LocalAptRepo> {
  const dir = await tempDir('ac-apt-');
  const root = dir.path;
  const pool = join(root, 'repo');
  const build = join(root, 'build');
  for (const d of [pool, build, join(root, 'etc/sources.list.d'), join(root, 'lists/partial'), join(root, 'cache/archives/partial')]) {
    await mkdir(d, { recursive: true });
  }
  // apt downloads as the unprivileged _apt user, which must be able to read the repository.
  await chmod(root, 0o755);
  await writeFile(join(root, 'etc/sources.list'), `deb [trusted=yes] file:${pool} ./\n`);
  const aptConf = join(root, 'apt.conf');
  await writeFile(
    aptConf,
    [
      `Dir::Etc::sourcelist "${join(root, 'etc/sources.list')}";`,
      `Dir::Etc::sourceparts "${join(root, 'etc/sources.list.d')}";`,
      `Dir::State::lists "${join(root, 'lists')}";`,
      `Dir::Cache "${join(root, 'cache')}";`,
      'Dir::Cache::pkgcache "";',
      'Dir::Cache::srcpkgcache "";',
      // The machine's hooks (PackageKit notifications...) are not part of the test.
      '#clear DPkg::Post-Invoke;',
      '#clear DPkg::Pre-Invoke;',
      '#clear APT::Update::Post-Invoke-Success;',
      '#clear APT::Update::Post-Invoke;',
      'Acquire::Languages "none";',
      '',
    ].join('\n'),
  );
  const env = { ...process.env, APT_CONFIG: aptConf };
  let built = 0;
  return {
    env,
    root,
    async add(pkg) {
      const tree = join(build, `${pkg.name}-${pkg.version}-${built++}`);
      await mkdir(join(tree, 'DEBIAN'), { recursive: true });
      const control = [
        `Package: ${pkg.name}`,
        `Version: ${pkg.version}`,
        'Architecture: all',
        'Maintainer: arduino-connector tests <tests@example.invalid>',
        'Section: misc',
        'Priority: optional',
        ...(pkg.installedSize === undefined ? [] : [`Installed-Size: ${pkg.installedSize}`]),
        // Long-text lines are continuation lines: they start with a space.
        `Description: ${(pkg.description ?? defaultDescription).split('\n').join('\n ')}`,
        '',
      ].join('\n');
      await writeFile(join(tree, 'DEBIAN/control'), control);
      if (pkg.postinst) {
        await writeFile(join(tree, 'DEBIAN/postinst'), `#!/bin/sh\nset -e\n${pkg.postinst}\n`);
        await chmod(join(tree, 'DEBIAN/postinst'), 0o755);
      }
      const conffiles = Object.entries(pkg.conffiles ?? {});
      for (const [path, content] of conffiles) {
        await mkdir(join(tree, path, '..'), { recursive: true });
        await writeFile(join(tree, path), content);
      }
      if (conffiles.length) await writeFile(join(tree, 'DEBIAN/conffiles'), conffiles.map(([p]) => `${p}\n`).join(''));
      await run('dpkg-deb', ['--build', '--root-owner-group', tree, join(pool, `${pkg.name}_${pkg.version}_all.deb`)]);
    },
    async publish() {
      const { stdout } = await run('dpkg-scanpackages', ['--multiversion', '.', '/dev/null'], { cwd: pool, maxBuffer: 16 * 1024 * 1024 });
      await writeFile(join(pool, 'Packages'), stdout);
    },
    remove: () => dir.remove(),
  };
}
