// A release's manifest.json: what it is (version, architecture, the runtime and its module ABI)
// and the SHA-256 of every file in it. The release script writes it; `-install` copies a release
// by it, checking each file on the way, so a damaged or altered download is never installed.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { ConfigError } from '../errors.js';
import { releasePaths } from './layout.js';

export interface Manifest {
  name: 'arduino-connector';
  version: string;
  /** Node's name for the architecture (x64, arm64); the .deb uses Debian's (amd64, arm64). */
  arch: string;
  runtime: {
    /** The node the release runs on (runtime/bin/node), e.g. "24.22.3". */
    node: string;
    /** NODE_MODULE_VERSION of that node, which native addons built for it must match. */
    abi: string;
    /** N-API version it offers (node-pty is an N-API addon: any node with this version loads it). */
    napi: string;
  };
  /** Every file of the release but manifest.json, by path relative to the release folder
   * (forward slashes): its SHA-256 in hex and whether it is executable. */
  files: Record<string, { sha256: string; size: number; mode: 'exec' | 'file' }>;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Every regular file under `dir`, relative, sorted. A symbolic link or any other kind of entry is
 * an error: a release holds plain files only, so its manifest says all there is. */
export async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(join(dir, prefix), { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const rel = prefix ? posix.join(prefix, entry.name) : entry.name;
    if (entry.isDirectory()) out.push(...(await listFiles(dir, rel)));
    else if (entry.isFile()) out.push(rel);
    else throw new ConfigError(`release: ${rel} is not a plain file or folder`);
  }
  return out;
}

/** The files part of a manifest for the release folder `dir` (manifest.json itself left out). */
export async function hashTree(dir: string): Promise<Manifest['files']> {
  const files: Manifest['files'] = {};
  for (const rel of await listFiles(dir)) {
    if (rel === releasePaths.manifest) continue;
    const info = await lstat(join(dir, rel));
    files[rel] = { sha256: await sha256File(join(dir, rel)), size: info.size, mode: info.mode & 0o111 ? 'exec' : 'file' };
  }
  return files;
}

const relativePath = /^(?!\/)(?!.*(^|\/)\.\.?(\/|$))[^\0]+$/;

/** Reads and checks the shape of `<dir>/manifest.json`. */
export async function readManifest(dir: string): Promise<Manifest> {
  const path = join(dir, releasePaths.manifest);
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing: this is not a release folder' : (err as Error).message}`);
  }
  const m = parsed as Partial<Manifest>;
  const ok =
    m !== null && typeof m === 'object' && m.name === 'arduino-connector' && typeof m.version === 'string' && typeof m.arch === 'string' &&
    typeof m.runtime?.node === 'string' && typeof m.files === 'object' && m.files !== null &&
    Object.entries(m.files).every(([rel, f]) => relativePath.test(rel) && /^[0-9a-f]{64}$/.test(f?.sha256 ?? '') && Number.isInteger(f?.size) && (f?.mode === 'exec' || f?.mode === 'file'));
  if (!ok) throw new ConfigError(`${path}: not an arduino-connector release manifest`);
  return m as Manifest;
}
