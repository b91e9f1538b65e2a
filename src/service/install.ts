// `-install` and `-uninstall`: the agent as a system service without the Debian package. The
// release is copied to /usr/lib/arduino-connector rather than run from where it was unpacked:
// the service then starts exactly what the .deb would start (the same unit text, the same paths),
// and does not depend on a download folder (often in a home folder) that may be cleaned up or
// unmounted. Every path is taken below `root`, so tests and image builds work in a folder.

import { execFile } from 'node:child_process';
import { copyFile, chmod, lstat, mkdir, readFile, readlink, realpath, rename, rm, stat, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { ConfigError } from '../errors.js';
import { writeFileAtomic } from '../lib/atomic-file.js';
import { readManifest, sha256File } from './manifest.js';
import { releasePaths, SERVICE_NAME, systemPaths, under } from './layout.js';
import { renderUnit } from './unit.js';

const execFileAsync = promisify(execFile);

export interface ServiceTarget {
  /** The system root: "/" on a device, a folder in tests and image builds. */
  root: string;
  /** Whether systemd manages `root` (it runs as PID 1 and root is "/"): then systemctl enables,
   * starts and stops; otherwise the enable link is made as `systemctl enable` makes it. */
  systemd: boolean;
  /** Each step, for the person running the command. */
  report(line: string): void;
}

/** The header of a config file made before registration (the .deb's postinst writes the same). */
export const emptyConfig = `# arduino-connector configuration: one key=value a line (arduino-connector --help lists the keys).
# \`arduino-connector -register\` fills in id and url; until then the service waits for them.
`;

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

async function systemctl(args: string[]): Promise<void> {
  try {
    await execFileAsync('systemctl', args);
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new ConfigError(`systemctl ${args.join(' ')}: ${(e.stderr ?? '').trim() || e.message}`);
  }
}

async function refuseIfPackaged(target: ServiceTarget, action: string): Promise<void> {
  if (await exists(under(target.root, systemPaths.dpkgList))) {
    throw new ConfigError(`arduino-connector is installed from its Debian package here: ${action}`);
  }
}

/** Copies the files the manifest lists, each checked against its SHA-256 once written, into a new
 * folder that then takes the place of the old one in one rename: a failed or interrupted copy
 * leaves the installed program as it was. */
async function copyRelease(releaseDir: string, programDir: string): Promise<void> {
  const manifest = await readManifest(releaseDir);
  const fresh = `${programDir}.new`;
  const old = `${programDir}.old`;
  await rm(fresh, { recursive: true, force: true });
  await rm(old, { recursive: true, force: true });
  for (const [rel, file] of Object.entries(manifest.files)) {
    const to = join(fresh, rel);
    await mkdir(dirname(to), { recursive: true, mode: 0o755 });
    await copyFile(join(releaseDir, rel), to);
    await chmod(to, file.mode === 'exec' ? 0o755 : 0o644);
    const sha256 = await sha256File(to);
    if (sha256 !== file.sha256) {
      await rm(fresh, { recursive: true, force: true });
      throw new ConfigError(`${join(releaseDir, rel)}: its SHA-256 is not the one in manifest.json (a damaged or altered release); nothing was installed`);
    }
  }
  await copyFile(join(releaseDir, releasePaths.manifest), join(fresh, releasePaths.manifest));
  await chmod(fresh, 0o755);
  const hadOne = await exists(programDir);
  if (hadOne) await rename(programDir, old);
  await rename(fresh, programDir);
  if (hadOne) await rm(old, { recursive: true, force: true });
}

/** A symbolic link made in one step (a temporary link renamed over the old one). */
async function replaceSymlink(target: string, path: string): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`;
  await rm(temp, { force: true });
  await symlink(target, temp);
  await rename(temp, path);
}

/** Is `path` a link we made (to the installed launcher, or the unit)? Anything else is left alone. */
async function isOurLink(path: string, target: string): Promise<boolean> {
  try {
    return (await readlink(path)) === target;
  } catch {
    return false;
  }
}

async function configured(configFile: string): Promise<boolean> {
  const text = await readFile(configFile, 'utf8').catch(() => '');
  return /^\s*id\s*=\s*\S/m.test(text);
}

export async function installService(target: ServiceTarget, releaseDir: string): Promise<void> {
  const { root, report } = target;
  await refuseIfPackaged(target, 'upgrade it with apt, or `apt remove arduino-connector` before -install');
  const manifest = await readManifest(releaseDir);
  const programDir = under(root, systemPaths.programDir);

  await mkdir(dirname(programDir), { recursive: true });
  const running = await realpath(releaseDir);
  const installed = await realpath(programDir).catch(() => '');
  if (running === installed) {
    report(`${systemPaths.programDir}: already this release (${manifest.version})`);
  } else {
    await copyRelease(releaseDir, programDir);
    report(`${systemPaths.programDir}: release ${manifest.version} (${Object.keys(manifest.files).length} files, each checked against manifest.json)`);
  }

  const binLink = under(root, systemPaths.binLink);
  const launcher = join(systemPaths.programDir, releasePaths.launcher);
  if ((await exists(binLink)) && !(await lstat(binLink)).isSymbolicLink()) {
    report(`${systemPaths.binLink}: left as it is (a file that is not ours); the program is ${launcher}`);
  } else {
    await mkdir(dirname(binLink), { recursive: true });
    await replaceSymlink(launcher, binLink);
    report(`${systemPaths.binLink} -> ${launcher}`);
  }

  const unitFile = under(root, systemPaths.localUnit);
  await mkdir(dirname(unitFile), { recursive: true });
  await writeFileAtomic(unitFile, renderUnit({ version: manifest.version }), { mode: 0o644 });
  report(`${systemPaths.localUnit}: written`);

  // systemd makes both at start (ConfigurationDirectory, StateDirectory); made here too so that
  // -register can write the config before the first start.
  for (const dir of [systemPaths.configDir, systemPaths.dataDir]) {
    const path = under(root, dir);
    if (!(await exists(path))) await mkdir(path, { recursive: true, mode: 0o700 });
  }
  const configFile = under(root, systemPaths.configFile);
  if (!(await exists(configFile))) await writeFileAtomic(configFile, emptyConfig, { mode: 0o600 });

  if (target.systemd) {
    await systemctl(['daemon-reload']);
    await systemctl(['enable', SERVICE_NAME]);
    report(`${SERVICE_NAME}: enabled`);
    if (await configured(configFile)) {
      // A running agent must move to the copied release: its old files are gone.
      await systemctl(['restart', SERVICE_NAME]);
      report(`${SERVICE_NAME}: started`);
    } else {
      report(`${SERVICE_NAME}: not started until the device is registered (arduino-connector -register, then systemctl start ${SERVICE_NAME})`);
    }
  } else {
    const wants = under(root, join(systemPaths.wantsDir, SERVICE_NAME));
    await mkdir(dirname(wants), { recursive: true });
    await replaceSymlink(systemPaths.localUnit, wants);
    report(`${SERVICE_NAME}: enabled (${join(systemPaths.wantsDir, SERVICE_NAME)}); systemd does not run here, so it starts at the next boot`);
  }
}

export async function uninstallService(target: ServiceTarget, options: { purge: boolean }): Promise<void> {
  const { root, report } = target;
  await refuseIfPackaged(target, `use \`apt ${options.purge ? 'purge' : 'remove'} arduino-connector\``);
  const unitFile = under(root, systemPaths.localUnit);
  if (target.systemd && (await exists(unitFile))) {
    // Stops the agent and, with its control group, its sketches.
    await systemctl(['disable', '--now', SERVICE_NAME]);
    report(`${SERVICE_NAME}: stopped and disabled`);
  }
  const wants = under(root, join(systemPaths.wantsDir, SERVICE_NAME));
  if (await isOurLink(wants, systemPaths.localUnit)) await rm(wants);
  if (await exists(unitFile)) {
    await rm(unitFile);
    report(`${systemPaths.localUnit}: removed`);
  }
  const binLink = under(root, systemPaths.binLink);
  if (await isOurLink(binLink, join(systemPaths.programDir, releasePaths.launcher))) {
    await rm(binLink);
    report(`${systemPaths.binLink}: removed`);
  }
  const programDir = under(root, systemPaths.programDir);
  if (await exists(programDir)) {
    await rm(programDir, { recursive: true, force: true });
    report(`${systemPaths.programDir}: removed`);
  }
  if (target.systemd) await systemctl(['daemon-reload']);
  for (const dir of [systemPaths.configDir, systemPaths.dataDir]) {
    const path = under(root, dir);
    if (!(await exists(path))) continue;
    if (options.purge) {
      await rm(path, { recursive: true, force: true });
      report(`${dir}: removed`);
    } else {
      report(`${dir}: kept (${dir === systemPaths.configDir ? 'config and certificates' : 'sketches'}; -uninstall -purge removes it)`);
    }
  }
}

/** The release folder this program runs from: the nearest folder above `from` (the running
 * module) that holds a manifest.json. */
export async function findRelease(from: string): Promise<string | undefined> {
  for (let dir = dirname(from), i = 0; i < 4; i++, dir = dirname(dir)) {
    if ((await stat(join(dir, releasePaths.manifest)).catch(() => undefined))?.isFile()) return dir;
  }
  return undefined;
}
