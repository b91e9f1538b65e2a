// Which process a pid was: the pid, when it started (clock ticks since boot, from /proc/<pid>/stat)
// and which boot that was. A pid is reused once its process is gone; the three together are not,
// so the agent can tell a sketch it started in an earlier run from a stranger with the same pid.

import { readFile } from 'node:fs/promises';

export interface ProcessIdentity {
  pid: number;
  startTicks: number;
  bootId: string;
}

async function bootId(): Promise<string> {
  return (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
}

/** The start time of `pid` in clock ticks since boot; undefined once it is gone (or a zombie). */
async function startTicksOf(pid: number): Promise<number | undefined> {
  let stat: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name in parentheses may itself hold spaces and parentheses: fields follow the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), so field 22 (starttime) is fields[19].
  if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
  const ticks = Number(fields[19]);
  return Number.isFinite(ticks) ? ticks : undefined;
}

export async function identify(pid: number): Promise<ProcessIdentity | undefined> {
  const startTicks = await startTicksOf(pid);
  return startTicks === undefined ? undefined : { pid, startTicks, bootId: await bootId() };
}

/** Whether the process `identity` names is still running. */
export async function stillRunning(identity: ProcessIdentity): Promise<boolean> {
  if ((await bootId()) !== identity.bootId) return false;
  return (await startTicksOf(identity.pid)) === identity.startTicks;
}
