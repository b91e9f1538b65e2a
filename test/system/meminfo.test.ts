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
  it('reads every figure of /proc/meminfo in kB under the Go agent names', () => {
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
      FreeMem: 512000,
      TotalMem: 2048000,
      AvailableMem: 1024000,
      Buffers: 16000,
      Cached: 300000,
      FreeSwapMem: 999000,
      TotalSwapMem: 1000000,
    });
  });

  it('does not confuse SwapCached with Cached, and reports a missing figure as 0', () => {
    const stats = parseMeminfo('MemTotal: 100 kB\nSwapCached: 7 kB\nMemFree: 50 kB\n');
    assert.equal(stats.Cached, 0);
    assert.equal(stats.AvailableMem, 0);
    assert.equal(stats.FreeMem, 50);
  });

  it('refuses text that is not meminfo', () => {
    assert.throws(() => parseMeminfo('hello\nworld\n'), /MemTotal/);
  });

  it('agrees with the kernel total and with free -k on this machine', async () => {
    const [stats, free] = await Promise.all([readMeminfo(), freeKb()]);
    assert.equal(stats.TotalMem * 1024, totalmem());
    assert.equal(stats.TotalMem, free.mem[0]);
    assert.equal(stats.TotalSwapMem, free.swap[0]);
    // Free memory moves between two reads; a few hundred MB of drift would be a wrong field.
    const drift = 256 * 1024;
    assert.ok(Math.abs(stats.FreeMem - free.mem[2]!) < drift, `MemFree ${stats.FreeMem} vs free ${free.mem[2]}`);
    assert.ok(Math.abs(stats.AvailableMem - free.mem[5]!) < drift, `MemAvailable ${stats.AvailableMem} vs free ${free.mem[5]}`);
    assert.ok(Math.abs(stats.FreeSwapMem - free.swap[2]!) < drift);
    assert.ok(stats.FreeMem <= stats.TotalMem && stats.AvailableMem <= stats.TotalMem);
    assert.ok(stats.Buffers + stats.Cached > 0);
  });
});
