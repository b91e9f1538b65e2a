import { readFile } from 'node:fs/promises';
import { FailedError } from '../errors.js';

/** Seconds since boot, from /proc/uptime (the heartbeat's payload). */
export async function readUptimeSeconds(path = '/proc/uptime'): Promise<number> {
  const text = await readFile(path, 'utf8');
  const first = Number(text.split(/\s+/)[0]);
  if (!Number.isFinite(first)) throw new FailedError(`unexpected content in ${path}: ${text.slice(0, 40)}`);
  return first;
}
