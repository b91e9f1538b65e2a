// The Debian package, built with dpkg-deb from a release folder: the release under
// /usr/lib/arduino-connector, /usr/bin/arduino-connector linking to its launcher, the unit under
// /lib/systemd/system, and the maintainer scripts of packaging/debian. No conffile: config and
// data are made by postinst (see there why).

import { createHash } from 'node:crypto';
import { chmod, copyFile, cp, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Manifest } from '../../src/service/manifest.js';
import { systemPaths } from '../../src/service/layout.js';
import { renderUnit } from '../../src/service/unit.js';
import { run } from './run.js';

export const debArchOf: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'armhf' };

// Shared libraries the runtime and the native addons link against, and the Debian package of each.
const libraryPackages: Record<string, string> = {
  'libc.so.6': 'libc6',
  'libm.so.6': 'libc6',
  'libdl.so.2': 'libc6',
  'libpthread.so.0': 'libc6',
  'librt.so.1': 'libc6',
  'ld-linux-x86-64.so.2': 'libc6',
  'ld-linux-aarch64.so.1': 'libc6',
  'libstdc++.so.6': 'libstdc++6',
  'libgcc_s.so.1': 'libgcc-s1',
};

/** Depends: from the ELF files' NEEDED entries, with the newest glibc symbol version they use. */
async function dependsOf(releaseDir: string, elfFiles: string[]): Promise<string> {
  const packages = new Set<string>();
  let glibc = [2, 17];
  for (const file of elfFiles) {
    const dynamic = await run('objdump', ['-p', '-T', join(releaseDir, file)]);
    for (const m of dynamic.matchAll(/^\s*NEEDED\s+(\S+)/gm)) {
      const pkg = libraryPackages[m[1] as string];
      if (!pkg) throw new Error(`${file} links ${m[1]}: add its Debian package to scripts/release/deb.ts`);
      packages.add(pkg);
    }
    for (const m of dynamic.matchAll(/GLIBC_(\d+)\.(\d+)/g)) {
      const v = [Number(m[1]), Number(m[2])];
      if ((v[0] as number) > (glibc[0] as number) || (v[0] === glibc[0] && (v[1] as number) > (glibc[1] as number))) glibc = v;
    }
  }
  return [...packages].sort().map((p) => (p === 'libc6' ? `libc6 (>= ${glibc.join('.')})` : p)).join(', ');
}

/** The package's regular files (md5sums lists no links), relative to `tree`. */
async function regularFiles(tree: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(join(tree, rel), { withFileTypes: true })) {
    const path = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await regularFiles(tree, path)));
    else if (entry.isFile()) out.push(path);
  }
  return out.sort();
}

async function isElf(path: string): Promise<boolean> {
  const head = await readFile(path).then((b) => b.subarray(0, 4));
  return head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
}

export interface DebOptions {
  releaseDir: string;
  manifest: Manifest;
  outFile: string;
  /** dpkg-deb's compressor and level: xz 6 for a release, something quick for tests. */
  compression: { type: 'xz' | 'gzip' | 'none'; level: number };
  /** Clamps every timestamp (reproducible packages). */
  sourceDateEpoch: number;
  scratch: string;
}

export async function buildDeb(options: DebOptions): Promise<void> {
  const { manifest, releaseDir } = options;
  const debArch = debArchOf[manifest.arch];
  if (!debArch) throw new Error(`no Debian architecture for ${manifest.arch}`);
  const tree = join(options.scratch, 'deb');
  const programDir = join(tree, systemPaths.programDir);
  await mkdir(dirname(programDir), { recursive: true });
  await cp(releaseDir, programDir, { recursive: true });

  const binLink = join(tree, systemPaths.binLink);
  await mkdir(dirname(binLink), { recursive: true });
  // Relative, as Debian policy asks for a link within /usr.
  await symlink(relative(dirname(systemPaths.binLink), join(systemPaths.programDir, 'bin/arduino-connector')), binLink);

  const unitFile = join(tree, systemPaths.packageUnit);
  await mkdir(dirname(unitFile), { recursive: true });
  await writeFile(unitFile, renderUnit({ version: manifest.version }), { mode: 0o644 });

  const docDir = join(tree, '/usr/share/doc/arduino-connector');
  await mkdir(docDir, { recursive: true });
  await writeFile(
    join(docDir, 'copyright'),
    `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: arduino-connector

Files: *
License: Apache-2.0
 On Debian systems, the full text of the Apache License 2.0 is in
 /usr/share/common-licenses/Apache-2.0.

Files: usr/lib/arduino-connector/runtime/*
License: Node.js licence (MIT and the licences of its bundled parts)
 See /usr/lib/arduino-connector/runtime/LICENSE.

Files: usr/lib/arduino-connector/node_modules/*
License: each package's own, in its folder
`,
  );

  const files = await regularFiles(tree);
  const elf: string[] = [];
  for (const f of Object.keys(manifest.files)) if (await isElf(join(releaseDir, f))) elf.push(f);
  let installedBytes = 0;
  const md5: string[] = [];
  for (const f of files) {
    const path = join(tree, f);
    const info = await stat(path);
    installedBytes += Math.ceil(info.size / 1024) * 1024;
    md5.push(`${createHash('md5').update(await readFile(path)).digest('hex')}  ${f}`);
  }

  const control = join(tree, 'DEBIAN');
  await mkdir(control, { recursive: true });
  await writeFile(
    join(control, 'control'),
    `Package: arduino-connector
Version: ${manifest.version}
Architecture: ${debArch}
Maintainer: arduino-connector maintainers <arduino-connector@users.noreply.github.com>
Installed-Size: ${Math.ceil(installedBytes / 1024)}
Depends: ${await dependsOf(releaseDir, elf)}
Section: admin
Priority: optional
Description: device agent for Linux machines controlled through MQTT
 Runs signed programs ("sketches") and reports their output, reads the machine's stats, manages
 its apt packages and repositories and its Docker containers, on commands received through an
 MQTT broker (the API of Arduino's arduino-connector).
 .
 It carries its own Node.js ${manifest.runtime.node} runtime and runs as the systemd service
 arduino-connector.service.
`,
  );
  await writeFile(join(control, 'md5sums'), `${md5.join('\n')}\n`);
  const packaging = resolve(dirname(fileURLToPath(import.meta.url)), '../../packaging/debian');
  for (const script of ['postinst', 'prerm', 'postrm']) {
    await copyFile(join(packaging, script), join(control, script));
    await chmod(join(control, script), 0o755);
  }

  const { type, level } = options.compression;
  await run('dpkg-deb', ['--root-owner-group', `-Z${type}`, ...(type === 'none' ? [] : [`-z${level}`]), '--build', tree, options.outFile], {
    env: { ...process.env, SOURCE_DATE_EPOCH: String(options.sourceDateEpoch) },
  });
}
