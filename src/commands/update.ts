// update: downloads a signed release and switches to it (design: src/update/releases.ts). Nothing
// of the new release runs before its signature and its manifest are checked; the running release
// is never touched, so any failure up to the switch leaves the device as it was, serving.

import { mkdir, rename, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { AnswerOf, RequestOf } from '../api.js';
import { ConflictError, FailedError, RefusedError } from '../errors.js';
import { Feature, type CommandTable } from '../feature.js';
import { errorMessage } from '../log.js';
import { downloadVerified } from '../sketches/download.js';
import { systemPaths } from '../service/layout.js';
import { readManifest } from '../service/manifest.js';
import { loadSignatureKey } from '../sketches/signature.js';
import { Probation } from '../update/probation.js';
import { EXIT_UPDATED, linkedVersion, pruneReleases, setLink, staleReleases, writeUpdateState } from '../update/releases.js';
import { unpackRelease } from '../update/unpack.js';
import { compareVersions } from '../update/version-order.js';

/** B/<command>/post → the method of UpdateFeature that answers it. */
export const updateCommands = {
  update: 'update',
} as const satisfies CommandTable<'update', UpdateFeature>;

export interface UpdateOptions {
  releasesDir: string;
  /** update_key, or signature_key when that is empty (PEM or a path). */
  signatureKey: string;
  maxBytes: number;
  probationSeconds: number;
  /** This agent's version. */
  version: string;
  /** Stops the agent cleanly, then ends the process with `code` (the service restarts it). */
  requestExit: (code: number, why: string) => void;
  downloadTimeoutMs?: number;
  /** Limit on a whole download (default 30 minutes). */
  downloadDeadlineMs?: number;
  /** The packaged release, whose selector starts the service (default /usr/lib/arduino-connector). */
  packagedDir?: string;
}

export class UpdateFeature extends Feature<UpdateOptions> {
  readonly name = 'update';
  readonly probation = new Probation({
    releasesDir: this.options.releasesDir,
    version: this.options.version,
    probationSeconds: this.options.probationSeconds,
    bus: this.deps.bus,
    base: this.deps.base,
    log: this.deps.log,
    requestExit: this.options.requestExit,
    writable: this.deps.writable,
  });
  private readonly abort = new AbortController();
  /** Set once an update is switched in: the agent is about to restart into it. */
  private switchedTo: string | undefined;

  async update(request: RequestOf<'update'>): Promise<AnswerOf<'update'>> {
    const { releasesDir, version: running } = this.options;
    const { log } = this.deps;
    if (this.switchedTo) throw new ConflictError(`the update to ${this.switchedTo} is switched in; the agent is restarting`);
    let publicKey;
    try {
      publicKey = await loadSignatureKey(this.options.signatureKey);
    } catch (err) {
      throw new RefusedError(`update refused, no release can be verified: ${errorMessage(err)} (update_key, signature_key)`);
    }
    return this.deps.writable.around(async () => {
      await mkdir(releasesDir, { recursive: true, mode: 0o700 });
      const download = await downloadVerified({
        url: request.url,
        token: request.token,
        signature: request.signature === undefined ? undefined : Buffer.from(request.signature, 'base64'),
        folder: releasesDir,
        maxBytes: this.options.maxBytes,
        what: 'update',
        sizeSetting: 'max_update_size',
        publicKey,
        timeoutMs: this.options.downloadTimeoutMs,
        deadlineMs: this.options.downloadDeadlineMs ?? 30 * 60_000,
        signal: this.abort.signal,
      });
      log.info(`update: ${download.bytes} bytes downloaded and verified`);
      let unpacked;
      try {
        unpacked = await unpackRelease(download.tempPath, releasesDir);
      } finally {
        await unlink(download.tempPath).catch(() => {});
      }
      const { manifest } = unpacked;
      try {
        const order = compareVersions(manifest.version, running);
        if (order === 0) return `${running} is already running`;
        if (order < 0 && request.allow_downgrade !== true) throw new RefusedError(`release ${manifest.version} is older than the running ${running} (allow_downgrade to install it)`);
        const packaged = await readManifest(this.options.packagedDir ?? systemPaths.programDir).catch(() => undefined);
        // The selector drops an update older than the packaged release (a .deb installed later wins).
        if (packaged && compareVersions(manifest.version, packaged.version) < 0) {
          throw new RefusedError(`release ${manifest.version} is older than the packaged release ${packaged.version}, which the service would start instead`);
        }
        const current = await linkedVersion(releasesDir, 'current');
        // The running release: an earlier update's folder, or the packaged one (no link).
        const previous = current === running ? running : undefined;
        const target = join(releasesDir, manifest.version);
        try {
          await rm(target, { recursive: true, force: true });
          await rename(unpacked.dir, target);
          // The state first: a power cut before the switch is seen by the selector as an update
          // that never ran; after it, the new release is on probation.
          await writeUpdateState(releasesDir, {
            version: manifest.version,
            from: running,
            phase: 'probation',
            starts: 0,
            since: Math.floor(Date.now() / 1000),
            reason: '',
            reported: false,
          });
          await setLink(releasesDir, 'previous', previous);
          await setLink(releasesDir, 'current', manifest.version);
        } catch (err) {
          throw new FailedError(`installing the update failed: ${errorMessage(err)}`, { cause: err });
        }
        this.switchedTo = manifest.version;
        await pruneReleases(releasesDir, [manifest.version, previous]).catch((err: unknown) => log.warn(`pruning old releases: ${errorMessage(err)}`));
        log.info(`update: ${manifest.version} switched in (from ${running}); restarting into it`);
        // After the answer is on its way: the router publishes it when this method returns.
        setTimeout(() => this.options.requestExit(EXIT_UPDATED, `updated to ${manifest.version}`), 200);
        return `updating to ${manifest.version}`;
      } finally {
        await rm(unpacked.scratch, { recursive: true, force: true });
      }
    });
  }

  override async start(): Promise<void> {
    const { releasesDir } = this.options;
    const keep = [await linkedVersion(releasesDir, 'current'), await linkedVersion(releasesDir, 'previous')];
    // What a kill during a download, an unpack or a switch left, and a rolled-back release. Only
    // when there is something: with check_ro_fs each start would otherwise remount the root.
    if ((await staleReleases(releasesDir, keep)).length > 0) {
      const removed = await this.deps.writable.around(() => pruneReleases(releasesDir, keep));
      this.deps.log.info(`releases folder: removed ${removed.join(', ')}`);
    }
    await this.probation.start();
  }

  override async stop(): Promise<void> {
    this.abort.abort();
    this.probation.stop();
  }
}
