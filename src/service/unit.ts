// The systemd unit: one text, rendered here, for the Debian package (scripts/release.ts writes it
// into the .deb) and for `-install`. The agent's side of the protocol it declares (READY and
// WATCHDOG through NOTIFY_SOCKET from the agent's own process) lives with the agent.

import { ConfigError } from '../errors.js';
import { execStart, systemPaths } from './layout.js';

export interface UnitOptions {
  /** The release the unit starts (default /usr/lib/arduino-connector). */
  programDir?: string;
  /** Written into the header comment, so a unit on disk says which release wrote it. */
  version: string;
}

// Paths go into ExecStart unquoted: anything systemd would read differently (spaces, quotes,
// `%` specifiers, `$` variables, backslashes) is refused rather than escaped.
const plainPath = /^\/[A-Za-z0-9_./+@:,=-]*$/;

function checkedPath(path: string): string {
  if (!plainPath.test(path)) throw new ConfigError(`service unit: "${path}" is not a plain absolute path`);
  return path;
}

export function renderUnit(options: UnitOptions): string {
  const programDir = checkedPath(options.programDir ?? systemPaths.programDir);
  const dataDir = checkedPath(systemPaths.dataDir);
  const command = execStart(programDir).map(checkedPath).join(' ');
  return `# arduino-connector ${options.version}: written by the Debian package or by \`arduino-connector -install\`.
[Unit]
Description=Arduino Connector device agent (MQTT)
# The agent starts without a network and reconnects by itself; waiting for it at boot only makes
# the first connection come sooner.
Wants=network-online.target
After=network-online.target
# A device is never given up on: while its configuration is missing or wrong the agent exits, and
# is tried again every RestartSec, so registration fixing the config brings it up by itself.
StartLimitIntervalSec=0

[Service]
# READY=1 once the agent has started locally (with or without a broker); WATCHDOG=1 from its event
# loop every WATCHDOG_USEC/2, so a blocked loop gets the agent restarted. Only the main process
# may notify: the selector below (sh) execs the launcher, which execs node, so node keeps its pid.
# The selector picks an update on probation or the packaged release, and rolls a failed update
# back (src/update/releases.ts); an agent that switched in an update exits 75 to be restarted.
Type=notify
NotifyAccess=main
WatchdogSec=30
ExecStart=${command}
Restart=on-failure
RestartSec=5
# Not a home folder: sketches inherit it as their working folder.
WorkingDirectory=${dataDir}
# systemd creates both (0700) before the start: sketches and the sketch table, config and keys.
StateDirectory=arduino-connector
StateDirectoryMode=0700
ConfigurationDirectory=arduino-connector
ConfigurationDirectoryMode=0700
# KillMode stays control-group (the default), on purpose: sketches run in the service's control
# group, so stopping the service ends them with it, and none outlives the agent that supervises
# it. At the next start the agent brings back, from its sketch table, those last wanted RUNNING.
# The agent runs as root and without sandboxing: it installs packages, manages Docker and the
# network, and remounts / when check_ro_fs is set.

[Install]
WantedBy=multi-user.target
`;
}
