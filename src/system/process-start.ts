// When a process started, from /proc: with its pid, what tells it apart from a later process that
// got the same pid.

import { readFile } from 'node:fs/promises';

/** The start time of `pid` in clock ticks since boot; undefined once it is gone (or a zombie). */
export async function startTicksOf(pid: number): Promise<number | undefined> {
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
