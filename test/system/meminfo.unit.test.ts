// Memory figures against what the kernel and procps' `free` report on this machine.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { totalmem } from 'node:os';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parseMeminfo, readMeminfo } from '../../src/system/meminfo.js';

const run = promisify(execFile);

/** `free -k`'s Mem: and Swap: rows as numbers. */
async function freeKb(): Promise<{ mem: number[]; swap: number[] }> {
  const { stdout } = await run('free', ['-k']);
  const row = (label: string) => {
    const line = stdout.split('\n').find((l) => l.startsWith(label));
    assert.ok(line, `free printed no ${label} row: ${stdout}`);
    return line.split(/\s+/).slice(1).map(Number);
  };
  return { mem: row('Mem:'), swap: row('Swap:') };
}

describe('meminfo', () => {
  it('reads every figure of /proc/meminfo in kB', () => {
    const text = [
      'MemTotal:        2048000 kB',
      'MemFree:          512000 kB',
      'MemAvailable:    1024000 kB',
      'Buffers:           16000 kB',
      'Cached:           300000 kB',
      'SwapCached:            0 kB',
      'SwapTotal:       1000000 kB',
      'SwapFree:         999000 kB',
      'HugePages_Total:       0',
      '',
    ].join('\n');
    assert.deepEqual(parseMeminfo(text), {
      totalKiB: 2048000,
      freeKiB: 512000,
      availableKiB: 1024000,
      buffersKiB: 16000,
      cachedKiB: 300000,
      swapTotalKiB: 1000000,
      swapFreeKiB: 999000,
    });
  });

  it('does not confuse SwapCached with Cached, and reports a missing figure as 0', () => {
    const reading = parseMeminfo('MemTotal: 100 kB\nSwapCached: 7 kB\nMemFree: 50 kB\n');
    assert.equal(reading.cachedKiB, 0);
    assert.equal(reading.availableKiB, 0);
    assert.equal(reading.freeKiB, 50);
  });

  it('refuses text that is not meminfo', () => {
    assert.throws(() => parseMeminfo('hello\nworld\n'), /MemTotal/);
  });

  it('agrees with the kernel total and with free -k on this machine', async () => {
    const [reading, free] = await Promise.all([readMeminfo(), freeKb()]);
    assert.equal(reading.totalKiB * 1024, totalmem());
    assert.equal(reading.totalKiB, free.mem[0]);
    assert.equal(reading.swapTotalKiB, free.swap[0]);
    // Free memory moves between two reads; a few hundred MB of drift would be a wrong field.
    const drift = 256 * 1024;
    assert.ok(Math.abs(reading.freeKiB - free.mem[2]!) < drift, `MemFree ${reading.freeKiB} vs free ${free.mem[2]}`);
    assert.ok(Math.abs(reading.availableKiB - free.mem[5]!) < drift, `MemAvailable ${reading.availableKiB} vs free ${free.mem[5]}`);
    assert.ok(Math.abs(reading.swapFreeKiB - free.swap[2]!) < drift);
    assert.ok(reading.freeKiB <= reading.totalKiB && reading.availableKiB <= reading.totalKiB);
    assert.ok(reading.buffersKiB + reading.cachedKiB > 0);
  });
});
