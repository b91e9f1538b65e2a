// Where an installed agent lives. One table for the Debian package, the release tarball and
// `-install`, so the three put the same files in the same places. Every path is absolute inside
// the target system; `under(root, path)` places it below another root (tests, image builds).

import { join } from 'node:path';

export const SERVICE_NAME = 'arduino-connector.service';

export const systemPaths = {
  /** The release: manifest.json, package.json, bin/, dist/, node_modules/, runtime/. */
  programDir: '/usr/lib/arduino-connector',
  /** On PATH: a symbolic link to the release's launcher. */
  binLink: '/usr/bin/arduino-connector',
  /** The unit the Debian package ships (the distribution's folder). */
  packageUnit: `/lib/systemd/system/${SERVICE_NAME}`,
  /** The unit `-install` writes: units an administrator adds go to /etc, where they also win
   * over a package's. */
  localUnit: `/etc/systemd/system/${SERVICE_NAME}`,
  /** `WantedBy=multi-user.target`: what `systemctl enable` links. */
  wantsDir: '/etc/systemd/system/multi-user.target.wants',
  /** Config and certificates (cert_path's default), 0700. */
  configDir: '/etc/arduino-connector',
  configFile: '/etc/arduino-connector/arduino-connector.cfg',
  /** Sketches and the sketch table (sketches_path's default), 0700; also the working folder. */
  dataDir: '/var/lib/arduino-connector',
  /** dpkg's record of the package's files: present when the agent came from the .deb. */
  dpkgList: '/var/lib/dpkg/info/arduino-connector.list',
} as const;

/** Paths inside a release folder (the tarball's top folder, or programDir once installed). */
export const releasePaths = {
  manifest: 'manifest.json',
  launcher: 'bin/arduino-connector',
  /** The service's start: picks the release to run (src/update/selector.ts). */
  selector: 'bin/start',
  bundle: 'dist/arduino-connector.js',
  runtime: 'runtime/bin/node',
} as const;

/** `path` (absolute in the target system) below `root`; the root itself when `root` is "/". */
export function under(root: string, path: string): string {
  return root === '/' ? path : join(root, path);
}

/** The command line the service runs: the packaged release's selector, which execs the chosen
 * release's launcher (its runtime, its node flags, its bundle). */
export function execStart(programDir: string): string[] {
  return [join(programDir, releasePaths.selector)];
}
