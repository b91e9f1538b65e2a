// A nats-server the agent started must not outlive it. Each one is named (its --server_name) after
// the agent that started it: pid and start time, which together no later process shares. At the
// next start, a nats-server named after an agent that is gone is a leftover (its agent was killed
// before the child could be told, e.g. without setpriv's parent-death signal), and it is ended,
// so it cannot hold the port the new one needs.

import { readdir, readFile } from 'node:fs/promises';
import { startTicksOf } from './process-start.js';

const namePrefix = 'arduino-connector-bus-';
const namePattern = /^arduino-connector-bus-(\d+)-(\d+)$/;

/** The --server_name of the nats-server this process starts. */
export async function ownServerName(): Promise<string> {
  return `${namePrefix}${process.pid}-${(await startTicksOf(process.pid)) ?? 0}`;
}

/** The agent a nats-server command line names, when it is one of ours. */
function ownerOf(argv: string[]): { pid: number; ticks: number } | undefined {
  const at = argv.findIndex((arg) => arg === '--server_name' || arg === '-n');
  const match = at >= 0 ? namePattern.exec(argv[at + 1] ?? '') : null;
  return match ? { pid: Number(match[1]), ticks: Number(match[2]) } : undefined;
}

/** The pids of nats-servers whose agent is gone. */
export async function findLeftovers(): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0');
    } catch {
      continue;
    }
    const owner = ownerOf(argv);
    if (owner && (await startTicksOf(owner.pid)) !== owner.ticks) found.push(Number(entry));
  }
  return found;
}

/** Ends the leftovers (SIGKILL: the bus keeps nothing worth a clean shutdown) and waits until
 * they are gone (at most `waitMs`); returns their pids. */
export async function killLeftovers(waitMs = 5000): Promise<number[]> {
  const pids = await findLeftovers();
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    const alive = await Promise.all(pids.map((pid) => startTicksOf(pid)));
    if (alive.every((ticks) => ticks === undefined)) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return pids;
}
