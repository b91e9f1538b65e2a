// A verified tarball becomes a release folder beside the others, checked against its manifest:
// every file's SHA-256, size and mode (and no file the manifest does not list), the version (a
// plain folder name), the architecture of this machine, and the runtime it carries reporting the
// module ABI and N-API version its native addons were built for. Only the signature makes the
// tarball trusted; this catches a release that is damaged, mislabelled or built for another
// device. A failure removes everything it unpacked.

import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FailedError, RefusedError } from '../errors.js';
import { errorMessage } from '../log.js';
import { runCommand } from '../lib/run-command.js';
import { releasePaths } from '../service/layout.js';
import { hashTree, readManifest, type Manifest } from '../service/manifest.js';
import { versionPattern } from './releases.js';

export interface UnpackedRelease {
  /** The release's top folder, inside `scratch`. */
  dir: string;
  /** A temporary folder in the releases folder; the caller renames `dir` out and removes it. */
  scratch: string;
  manifest: Manifest;
}

export async function unpackRelease(tarball: string, releasesDir: string, arch = process.arch): Promise<UnpackedRelease> {
  const scratch = await mkdtemp(join(releasesDir, '.unpack-'));
  try {
    // argv, no shell; owners of the archive are not applied (root would otherwise honour them).
    const untar = await runCommand('tar', ['-xzf', tarball, '-C', scratch, '--no-same-owner', '--no-same-permissions'], { timeoutMs: 10 * 60_000 });
    if (untar.code !== 0) throw new FailedError(`unpacking the update failed: ${untar.output.trim().split('\n').slice(-3).join('; ')}`);
    const entries = await readdir(scratch, { withFileTypes: true });
    const top = entries[0];
    if (entries.length !== 1 || !top?.isDirectory()) throw new RefusedError('not a release: the archive must hold one top folder');
    const dir = join(scratch, top.name);
    const manifest = await readManifest(dir).catch((err: unknown) => {
      throw new RefusedError(`not a release: ${errorMessage(err)}`);
    });
    if (!versionPattern.test(manifest.version)) throw new RefusedError(`not a release: version "${manifest.version.slice(0, 80)}" is not a plain version`);
    if (manifest.arch !== arch) throw new RefusedError(`release ${manifest.version} is for ${manifest.arch}, this device is ${arch}`);
    await checkFiles(dir, manifest);
    await checkRuntime(dir, manifest);
    return { dir, scratch, manifest };
  } catch (err) {
    await rm(scratch, { recursive: true, force: true });
    throw err;
  }
}

async function checkFiles(dir: string, manifest: Manifest): Promise<void> {
  let found: Manifest['files'];
  try {
    found = await hashTree(dir);
  } catch (err) {
    throw new RefusedError(`manifest check failed: ${errorMessage(err)}`);
  }
  for (const [rel, want] of Object.entries(manifest.files)) {
    const got = found[rel];
    if (!got) throw new RefusedError(`manifest check failed: ${rel} is missing`);
    if (got.sha256 !== want.sha256 || got.size !== want.size) throw new RefusedError(`manifest check failed: ${rel} does not match its SHA-256`);
    if (got.mode !== want.mode) throw new RefusedError(`manifest check failed: ${rel} should be ${want.mode === 'exec' ? '' : 'not '}executable`);
  }
  const extra = Object.keys(found).find((rel) => !(rel in manifest.files));
  if (extra !== undefined) throw new RefusedError(`manifest check failed: ${extra} is not in the manifest`);
  for (const needed of [releasePaths.launcher, releasePaths.runtime, releasePaths.bundle]) {
    if (!manifest.files[needed]) throw new RefusedError(`not a release: ${needed} is missing`);
  }
  for (const program of [releasePaths.launcher, releasePaths.runtime]) {
    if (manifest.files[program]?.mode !== 'exec') throw new RefusedError(`not a release: ${program} is not executable`);
  }
}

/** The release's own node must run here and be the one its native addons were built for. */
async function checkRuntime(dir: string, manifest: Manifest): Promise<void> {
  const probe = await runCommand(join(dir, releasePaths.runtime), ['-p', 'process.versions.modules + " " + process.versions.napi'], { timeoutMs: 60_000 }).catch((err: unknown) => {
    throw new RefusedError(`the release's runtime does not run on this device: ${errorMessage(err)}`);
  });
  if (probe.code !== 0) throw new RefusedError(`the release's runtime does not run on this device: ${probe.output.trim().slice(-200)}`);
  const [abi, napi] = probe.output.trim().split(' ');
  if (abi !== manifest.runtime.abi || napi !== manifest.runtime.napi) {
    throw new RefusedError(`manifest check failed: the runtime offers module ABI ${abi} and N-API ${napi}, the manifest says ${manifest.runtime.abi} and ${manifest.runtime.napi}`);
  }
}
