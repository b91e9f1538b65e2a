// What systemd would run for a unit, read from the unit file itself: ExecStart, WorkingDirectory,
// Environment= and the variables systemd adds for StateDirectory=/ConfigurationDirectory=. Only
// what the agent's unit uses is understood; anything else in [Service] that changes how the
// program starts is an error, so the tests never run the agent differently from the service.
// NOTIFY_SOCKET and WATCHDOG_USEC/WATCHDOG_PID, which systemd adds for Type=notify and
// WatchdogSec=, are not set here: the notify protocol is tested against a socket of its own.

const understood = new Set([
  'Type', 'NotifyAccess', 'WatchdogSec', 'ExecStart', 'Restart', 'RestartSec', 'WorkingDirectory', 'Environment',
  'StateDirectory', 'StateDirectoryMode', 'ConfigurationDirectory', 'ConfigurationDirectoryMode',
]);

export interface UnitCommand {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  /** The folders systemd makes before the start, with their modes. */
  directories: { path: string; mode: number }[];
}

/** [Section] → key → values, in order. */
export function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = new Map();
      sections.set(header[1] as string, current);
      continue;
    }
    const eq = line.indexOf('=');
    if (!current || eq <= 0) throw new Error(`unit: cannot read "${line}"`);
    const key = line.slice(0, eq).trim();
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return sections;
}

export function unitCommand(text: string): UnitCommand {
  const service = parseUnit(text).get('Service');
  if (!service) throw new Error('unit: no [Service] section');
  for (const key of service.keys()) if (!understood.has(key)) throw new Error(`unit: [Service] ${key}= is not understood by the test's runner`);
  const one = (key: string) => service.get(key)?.at(-1);
  const execStart = one('ExecStart');
  if (!execStart || /["'\\$%]/.test(execStart)) throw new Error(`unit: ExecStart "${execStart}" is missing or needs quoting rules the runner does not have`);
  const env: Record<string, string> = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };
  for (const value of service.get('Environment') ?? []) {
    for (const pair of value.split(/\s+/)) {
      const eq = pair.indexOf('=');
      env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  const directories: UnitCommand['directories'] = [];
  const state = one('StateDirectory');
  if (state) {
    env.STATE_DIRECTORY = `/var/lib/${state}`;
    directories.push({ path: env.STATE_DIRECTORY, mode: Number.parseInt(one('StateDirectoryMode') ?? '0755', 8) });
  }
  const config = one('ConfigurationDirectory');
  if (config) {
    env.CONFIGURATION_DIRECTORY = `/etc/${config}`;
    directories.push({ path: env.CONFIGURATION_DIRECTORY, mode: Number.parseInt(one('ConfigurationDirectoryMode') ?? '0755', 8) });
  }
  return { argv: execStart.split(/\s+/), cwd: one('WorkingDirectory') ?? '/', env, directories };
}
