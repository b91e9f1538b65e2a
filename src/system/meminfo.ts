// Memory figures, read from /proc/meminfo.

import { readFile } from 'node:fs/promises';
import { FailedError } from '../errors.js';

/** The figures of /proc/meminfo that `stats` reports, in KiB as the kernel gives them ("kB"). */
export interface MemoryReading {
  totalKiB: number;
  freeKiB: number;
  /** Estimate of what can be allocated without swapping (MemAvailable). */
  availableKiB: number;
  buffersKiB: number;
  /** Page cache, without SwapCached. */
  cachedKiB: number;
  swapTotalKiB: number;
  swapFreeKiB: number;
}

/** /proc/meminfo's label for each figure. */
const labels: Record<keyof MemoryReading, string> = {
  totalKiB: 'MemTotal',
  freeKiB: 'MemFree',
  availableKiB: 'MemAvailable',
  buffersKiB: 'Buffers',
  cachedKiB: 'Cached',
  swapTotalKiB: 'SwapTotal',
  swapFreeKiB: 'SwapFree',
};

/** Reads the text of /proc/meminfo. A figure the kernel does not report (MemAvailable before
 * Linux 3.14) is 0, as in the Go agent, rather than failing the whole reading. */
export function parseMeminfo(text: string): MemoryReading {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^([^:\s]+):\s+(\d+)(?:\s+kB)?\s*$/.exec(line);
    if (match) values.set(match[1]!, Number(match[2]));
  }
  if (!values.has('MemTotal')) throw new FailedError('no MemTotal in /proc/meminfo');
  const reading = {} as MemoryReading;
  for (const [field, label] of Object.entries(labels) as [keyof MemoryReading, string][]) {
    reading[field] = values.get(label) ?? 0;
  }
  return reading;
}

export async function readMeminfo(path = '/proc/meminfo'): Promise<MemoryReading> {
  return parseMeminfo(await readFile(path, 'utf8'));
}
