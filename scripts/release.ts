// `npm run release`: from a checkout (after `npm ci`), into release/ (or --out DIR):
//   arduino-connector-<version>-linux-<arch>.tar.gz  the release folder: bundle, the packages it
//       loads at run time with their native addons, the Node.js runtime, a launcher, manifest.json
//   arduino-connector_<version>_<debian arch>.deb    the same release as a Debian package
// for the architecture of this machine (the native addons are compiled here, by npm ci).
//   --fast   quick compression (tests): the same files, larger archives

import { chmod, cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildAgent } from './build.js';
import { buildConsole } from './build-console.js';
import { buildDeb, debArchOf } from './release/deb.js';
import { copyRuntimeModules } from './release/modules.js';
import { run } from './release/run.js';
import { fetchRuntime } from './release/runtime.js';
import { hashTree, type Manifest } from '../src/service/manifest.js';
import { releasePaths } from '../src/service/layout.js';
import { NODE_FLAGS } from '../src/service/node-flags.js';
import { renderSelector } from '../src/update/selector.js';
import { VERSION } from '../src/version.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** What dist/ loads from node_modules at run time: scripts/build.ts's externals. */
export const runtimePackages = ['node-pty', 'dockerode', 'dbus-next'] as const;

export interface ReleaseOptions {
  outDir?: string;
  fast?: boolean;
  log?: (line: string) => void;
}

export interface Release {
  version: string;
  tarball: string;
  deb: string;
  manifest: Manifest;
}

function launcher(version: string): string {
  return `#!/bin/sh
# arduino-connector ${version}: the agent on the Node.js runtime its release carries, with the node
# flags of its bin. /usr/bin/arduino-connector links here.
release=$(dirname "$(dirname "$(readlink -f "$0")")")
exec "$release/${releasePaths.runtime}" ${NODE_FLAGS.join(' ')} "$release/${releasePaths.bundle}" "$@"
`;
}

/** Every timestamp in the archives: the last commit's, so that a release is reproducible. */
async function sourceDateEpoch(): Promise<number> {
  if (process.env.SOURCE_DATE_EPOCH) return Number(process.env.SOURCE_DATE_EPOCH);
  try {
    return Number((await run('git', ['log', '-1', '--format=%ct'], { cwd: root })).trim());
  } catch {
    throw new Error('not a git checkout: set SOURCE_DATE_EPOCH (seconds) for the archives\' timestamps');
  }
}

// The tools the release takes from the machine (bash scripts/bootstrap.sh installs them).
const tools: Record<string, string> = { 'dpkg-deb': 'dpkg', strip: 'binutils', objdump: 'binutils', tar: 'tar', gzip: 'gzip', npm: 'npm' };

async function checkTools(): Promise<void> {
  const missing: string[] = [];
  for (const [tool, pkg] of Object.entries(tools)) {
    await run('sh', ['-c', 'command -v "$1"', 'sh', tool]).catch(() => missing.push(`${tool} (${pkg})`));
  }
  if (missing.length > 0) throw new Error(`missing tools: ${missing.join(', ')}`);
}

export async function buildRelease(options: ReleaseOptions = {}): Promise<Release> {
  const log = options.log ?? ((line: string) => process.stderr.write(`release: ${line}\n`));
  const outDir = resolve(options.outDir ?? join(root, 'release'));
  const arch = process.arch;
  const debArch = debArchOf[arch];
  if (process.platform !== 'linux' || !debArch) throw new Error(`releases are built for Linux on x64 or arm64, not ${process.platform}-${arch}`);
  const name = `arduino-connector-${VERSION}-linux-${arch}`;
  await checkTools();
  const epoch = await sourceDateEpoch();
  const scratch = await mkdtemp(join(tmpdir(), 'ac-release-'));
  try {
    const dir = join(scratch, name);
    log(`bundling ${VERSION}`);
    // Bundled inside the checkout, so that the source maps name the sources by paths relative to
    // it (../../src/...), not by where this machine keeps its checkout.
    const bundleDir = await mkdtemp(join(root, '.release-build-'));
    try {
      await buildAgent(join(bundleDir, 'dist'));
      // The web console beside the bundle, where `arduino-connector console` looks for it.
      await buildConsole(join(bundleDir, 'dist', 'console'));
      await mkdir(dir);
      await cp(join(bundleDir, 'dist'), join(dir, 'dist'), { recursive: true });
    } finally {
      await rm(bundleDir, { recursive: true, force: true });
    }
    const copied = await copyRuntimeModules(root, dir, runtimePackages, arch);
    log(`${copied.length} packages for run time: ${runtimePackages.join(', ')} and their dependencies`);
    const runtime = await fetchRuntime(arch, join(dir, 'runtime'));
    log(`runtime: node ${runtime.node} (modules ABI ${runtime.abi}, N-API ${runtime.napi})`);
    // The bundle is ESM (.js files); this says so to node, and names the release.
    await writeFile(join(dir, 'package.json'), `${JSON.stringify({ name: 'arduino-connector', version: VERSION, private: true, type: 'module' }, null, 2)}\n`);
    await mkdir(join(dir, 'bin'));
    await writeFile(join(dir, releasePaths.launcher), launcher(VERSION));
    await chmod(join(dir, releasePaths.launcher), 0o755);
    await writeFile(join(dir, releasePaths.selector), renderSelector(VERSION));
    await chmod(join(dir, releasePaths.selector), 0o755);
    // The native addon must load on the runtime it ships with, not only on the node that built it.
    await run(join(dir, releasePaths.runtime), ['-e', "require('./node_modules/node-pty')"], { cwd: dir });
    const version = (await run(join(dir, releasePaths.launcher), ['--version'])).trim();
    if (version !== VERSION) throw new Error(`the release's --version says "${version}", not ${VERSION}`);

    const manifest: Manifest = { name: 'arduino-connector', version: VERSION, arch, runtime, files: await hashTree(dir) };
    await writeFile(join(dir, releasePaths.manifest), `${JSON.stringify(manifest, null, 2)}\n`);

    await mkdir(outDir, { recursive: true });
    const tarball = join(outDir, `${name}.tar.gz`);
    const gzip = options.fast ? 'gzip -n -1' : 'gzip -n -9';
    await run('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', `--mtime=@${epoch}`, '--clamp-mtime', '-I', gzip, '-cf', tarball, '-C', scratch, name]);
    log(tarball);
    const deb = join(outDir, `arduino-connector_${VERSION}_${debArch}.deb`);
    await buildDeb({
      releaseDir: dir,
      manifest,
      outFile: deb,
      compression: options.fast ? { type: 'gzip', level: 1 } : { type: 'xz', level: 6 },
      sourceDateEpoch: epoch,
      scratch,
    });
    log(deb);
    return { version: VERSION, tarball, deb, manifest };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const outAt = args.indexOf('--out');
  await buildRelease({ fast: args.includes('--fast'), outDir: outAt >= 0 ? args[outAt + 1] : undefined });
}
