// Which process a pid was: the pid, when it started (clock ticks since boot, from /proc/<pid>/stat)
// and which boot that was. A pid is reused once its process is gone; the three together are not,
// so the agent can tell a sketch it started in an earlier run from a stranger with the same pid.

import { readFile } from 'node:fs/promises';
import { startTicksOf } from '../system/process-start.js';

export interface ProcessIdentity {
  pid: number;
  startTicks: number;
  bootId: string;
}

async function bootId(): Promise<string> {
  return (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
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
