// The project's own native addons (native/*.c), compiled with the system's C compiler into
// the folder of the bundle, which loads them from beside itself.
//
// Node-API only: the addon does not link against node, and one build loads on every Node.js
// release, so it needs no node-gyp, no Node.js headers download and no rebuild when the runtime
// changes. Headers come from node-api-headers (the Node.js project's own copy). CC and CFLAGS
// are honoured, so a cross compiler builds it for another architecture.

import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const run = promisify(execFile);

/** The addons the bundle loads from its own folder, as [source, file name beside the bundle]. */
export const nativeAddons = [
  { source: 'native/sd-notify.c', file: 'sd-notify.node' },
  { source: 'native/malloc-trim.c', file: 'malloc-trim.node' },
] as const;

function nodeApiIncludeDir(): string {
  const headers = createRequire(import.meta.url)('node-api-headers') as { include_dir: string };
  return headers.include_dir;
}

/** Compiles every addon into `outdir`; returns the paths written. */
export async function buildNativeAddons(outdir: string): Promise<string[]> {
  const cc = process.env.CC || 'cc';
  const extra = (process.env.CFLAGS ?? '').split(/\s+/).filter(Boolean);
  const include = nodeApiIncludeDir();
  const written: string[] = [];
  for (const addon of nativeAddons) {
    const out = join(outdir, addon.file);
    const args = ['-std=c11', '-D_GNU_SOURCE', '-O2', '-Wall', '-Wextra', '-Werror', '-fPIC', '-shared', '-fvisibility=hidden', ...extra, '-I', include, '-o', out, join(root, addon.source)];
    try {
      await run(cc, args);
    } catch (err) {
      const e = err as Error & { stderr?: string };
      throw new Error(`${cc} could not build ${addon.source} (install a C compiler: gcc libc6-dev): ${e.stderr?.trim() || e.message}`);
    }
    written.push(out);
  }
  return written;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const file of await buildNativeAddons(process.argv[2] ?? join(root, 'dist'))) process.stdout.write(`${file}\n`);
}
