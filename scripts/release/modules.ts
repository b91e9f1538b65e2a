// The packages the bundle loads from node_modules at run time (the externals of scripts/build.ts)
// and everything they depend on, copied from the checkout's node_modules into a release, in the
// same layout, so node resolves them there as it does here. What only building or type-checking
// needs stays behind: headers, types, sources of native addons, tests, source maps.

import { copyFile, mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';

interface PackageJson {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

// Not needed at run time: headers for building addons (node-addon-api, nan), type packages, and
// optional native addons whose builds package.json's allowScripts turns off (their packages try
// them and go on without: ssh2's cpu-features, dbus-next's usocket for abstract sockets).
const leftOut = new Set(['node-addon-api', 'nan', '@types/node', 'undici-types', 'cpu-features', 'usocket']);

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Node's resolution: `name` from `dir`, looking in node_modules of it and of every parent. */
async function resolvePackage(dir: string, name: string, top: string): Promise<string | undefined> {
  for (let at = dir; ; at = dirname(at)) {
    const candidate = join(at, 'node_modules', name);
    if (await exists(join(candidate, 'package.json'))) return candidate;
    if (at === top || dirname(at) === at) return undefined;
  }
}

/** The folders of `roots` and of their run-time dependencies, below `top` (the checkout). */
export async function dependencyClosure(top: string, roots: readonly string[]): Promise<Map<string, PackageJson>> {
  const seen = new Map<string, PackageJson>();
  const visit = async (dir: string): Promise<void> => {
    if (seen.has(dir)) return;
    const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as PackageJson;
    seen.set(dir, pkg);
    const wanted = [...Object.keys(pkg.dependencies ?? {}).map((n) => [n, true] as const), ...Object.keys(pkg.optionalDependencies ?? {}).map((n) => [n, false] as const)];
    for (const [name, required] of wanted) {
      if (leftOut.has(name)) continue;
      const found = await resolvePackage(dir, name, top);
      if (found) await visit(found);
      else if (required) throw new Error(`${pkg.name} needs ${name}, which is not installed (run npm ci)`);
    }
  };
  for (const name of roots) {
    const found = await resolvePackage(top, name, top);
    if (!found) throw new Error(`${name} is not installed (run npm ci)`);
    await visit(found);
  }
  return seen;
}

const keepAlways = /^(licen[cs]e|notice|copying)(\.|$)/i;
const dropFile = /(\.map|\.d\.[cm]?ts|\.ts|\.md|\.markdown|\.test\.js|\.spec\.js|\.gyp|\.gypi)$/i;
const dropTopFolder = new Set(['test', 'tests', '__tests__', 'example', 'examples', '.github', 'node_modules']);
// A native addon's package: the compiled addon is all it needs of its build.
const dropNativeFolder = new Set(['src', 'deps', 'third_party', 'scripts', 'typings']);

async function copyFiltered(from: string, to: string, native: boolean, arch: string, rel = ''): Promise<void> {
  for (const entry of await readdir(join(from, rel), { withFileTypes: true })) {
    const path = rel ? join(rel, entry.name) : entry.name;
    if (entry.isDirectory()) {
      if (rel === '' && (dropTopFolder.has(entry.name) || entry.name === '.bin')) continue;
      if (native && rel === '' && dropNativeFolder.has(entry.name)) continue;
      // Prebuilt addons: only this platform's (node-pty ships macOS and Windows ones).
      if (native && rel === 'prebuilds' && entry.name !== `linux-${arch}`) continue;
      // Of a native build folder, only the compiled addons (build/Release/*.node).
      if (native && rel === '' && entry.name === 'build') {
        const release = join(from, 'build/Release');
        for (const f of await readdir(release).catch(() => [] as string[])) {
          if (!f.endsWith('.node')) continue;
          await mkdir(join(to, 'build/Release'), { recursive: true });
          await copyFile(join(release, f), join(to, 'build/Release', f));
        }
        continue;
      }
      await copyFiltered(from, to, native, arch, path);
    } else if (entry.isFile()) {
      if (!keepAlways.test(entry.name) && dropFile.test(entry.name)) continue;
      await mkdir(join(to, rel), { recursive: true });
      await copyFile(join(from, path), join(to, path));
    }
    // Symbolic links (node_modules/.bin) are left out: a release holds plain files only.
  }
}

/** Copies the run-time closure of `roots` from `top`/node_modules to `into`/node_modules. */
export async function copyRuntimeModules(top: string, into: string, roots: readonly string[], arch: string): Promise<string[]> {
  const closure = await dependencyClosure(top, roots);
  const copied: string[] = [];
  for (const [dir, pkg] of closure) {
    const native = await exists(join(dir, 'binding.gyp'));
    if (native && !(await exists(join(dir, 'build/Release')))) throw new Error(`${pkg.name}: its native addon is not built (run npm ci)`);
    await copyFiltered(dir, join(into, relative(top, dir)), native, arch);
    copied.push(`${pkg.name}@${pkg.version}`);
  }
  return copied.sort();
}
