// Memory figures for `stats`, read from /proc/meminfo and named as the Go agent named them.

import { readFile } from 'node:fs/promises';
import type { MemoryStats } from '../api.js';

/** /proc/meminfo's label for each figure of the answer (all in kB, as the kernel gives them). */
const labels: Record<keyof MemoryStats, string> = {
  FreeMem: 'MemFree',
  TotalMem: 'MemTotal',
  AvailableMem: 'MemAvailable',
  Buffers: 'Buffers',
  Cached: 'Cached',
  FreeSwapMem: 'SwapFree',
  TotalSwapMem: 'SwapTotal',
};

/** Reads the text of /proc/meminfo. A figure the kernel does not report (MemAvailable before
 * Linux 3.14) is 0, as in the Go agent, rather than failing the whole answer. */
export function parseMeminfo(text: string): MemoryStats {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^([^:\s]+):\s+(\d+)(?:\s+kB)?\s*$/.exec(line);
    if (match) values.set(match[1]!, Number(match[2]));
  }
  if (!values.has('MemTotal')) throw new Error('no MemTotal in /proc/meminfo');
  const stats = {} as MemoryStats;
  for (const [field, label] of Object.entries(labels) as [keyof MemoryStats, string][]) {
    stats[field] = values.get(label) ?? 0;
  }
  return stats;
}

export async function readMeminfo(path = '/proc/meminfo'): Promise<MemoryStats> {
  return parseMeminfo(await readFile(path, 'utf8'));
}
