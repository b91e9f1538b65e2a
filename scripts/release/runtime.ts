// The Node.js runtime a release carries (packaging/runtime.json): fetched with npm from the npm
// registry, checked against the pinned integrity, unpacked to runtime/bin/node with its licence,
// and stripped of its symbol tables (18 MB of the upstream binary that only a debugger reads;
// N-API addons bind to the dynamic symbols, which stay).

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from './run.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

interface RuntimePin {
  node: string;
  packages: Record<string, { name: string; integrity: string }>;
}

export interface RuntimeInfo {
  node: string;
  abi: string;
  napi: string;
}

export async function readRuntimePin(): Promise<RuntimePin> {
  return JSON.parse(await readFile(join(root, 'packaging/runtime.json'), 'utf8')) as RuntimePin;
}

async function sha512(path: string): Promise<string> {
  const hash = createHash('sha512');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `sha512-${hash.digest('base64')}`;
}

/** Puts `bin/node` and `LICENSE` of the pinned runtime for `arch` (node's name) into `into`. */
export async function fetchRuntime(arch: string, into: string): Promise<RuntimeInfo> {
  const pin = await readRuntimePin();
  const pkg = pin.packages[arch];
  if (!pkg) throw new Error(`no Node.js ${pin.node} runtime is pinned for ${arch} (packaging/runtime.json has ${Object.keys(pin.packages).join(', ')})`);
  const scratch = await mkdtemp(join(tmpdir(), 'ac-runtime-'));
  try {
    // --prefer-offline: a second release takes the tarball from npm's cache without asking the
    // registry again; the integrity check below holds either way.
    const packed = JSON.parse(
      await run('npm', ['pack', `${pkg.name}@${pin.node}`, '--json', '--prefer-offline', '--pack-destination', scratch, '--loglevel=error'], { cwd: scratch }),
    ) as { filename: string; integrity: string }[];
    const tarball = join(scratch, packed[0]?.filename ?? '');
    const integrity = await sha512(tarball);
    if (integrity !== pkg.integrity) throw new Error(`${pkg.name}@${pin.node}: integrity ${integrity} is not the pinned ${pkg.integrity}`);
    await run('tar', ['-xzf', tarball, '-C', scratch, 'package/bin/node', 'package/LICENSE']);
    await mkdir(join(into, 'bin'), { recursive: true });
    await rename(join(scratch, 'package/bin/node'), join(into, 'bin/node'));
    await rename(join(scratch, 'package/LICENSE'), join(into, 'LICENSE'));
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  const node = join(into, 'bin/node');
  await run('strip', [node]);
  await chmod(node, 0o755);
  const versions = JSON.parse(await run(node, ['-p', 'JSON.stringify(process.versions)'])) as Record<string, string>;
  if (versions.node !== pin.node) throw new Error(`runtime: expected node ${pin.node}, the binary says ${versions.node}`);
  return { node: pin.node, abi: versions.modules ?? '', napi: versions.napi ?? '' };
}
