// The version ordering used to find upgrades, checked against dpkg's own comparison.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { compareDebianVersions } from '../../src/system/debian-version.js';

const run = promisify(execFile);

async function dpkgOrder(a: string, b: string): Promise<number> {
  const holds = (op: string) =>
    run('dpkg', ['--compare-versions', a, op, b]).then(
      () => true,
      () => false,
    );
  if (await holds('lt')) return -1;
  return (await holds('eq')) ? 0 : 1;
}

const tricky: [string, string][] = [
  ['1.0', '1.0-1'],
  ['1.0~rc1', '1.0'],
  ['1.0~rc1', '1.0~rc1~1'],
  ['1~~', '1~'],
  ['1~~a', '1~~'],
  ['1:0.9', '2.0'],
  ['0:1.0', '1.0'],
  ['1.0a', '1.0'],
  ['1.0+b1', '1.0'],
  ['1.0.', '1.0'],
  ['2.30-1', '2.4-1'],
  ['1.001', '1.1'],
  ['5.2.15-2+b13', '5.2.15-2+b8'],
  ['1.0-1~bpo12+1', '1.0-1'],
  ['1.2.3-4ubuntu1', '1.2.3-4'],
  ['a', 'b'],
  ['1.0-1-2', '1.0-1'],
  ['10', '9'],
  ['1.2.3', '1.2.3'],
  ['2:1.0+dfsg-1', '2:1.0-1'],
];

describe('Debian version order', () => {
  it('orders tricky versions as dpkg does', async () => {
    for (const [a, b] of tricky) {
      const expected = await dpkgOrder(a, b);
      assert.equal(Math.sign(compareDebianVersions(a, b)), expected, `${a} vs ${b}`);
      assert.equal(Math.sign(compareDebianVersions(b, a)), -expected || 0, `${b} vs ${a}`);
    }
  });

  it('orders the versions installed on this machine as dpkg does', async () => {
    const { stdout } = await run('dpkg-query', ['-W', '-f=${Version}\\n']);
    const versions = [...new Set(stdout.split('\n').filter(Boolean))];
    assert.ok(versions.length > 20);
    // Neighbours in a (repeatable) shuffled order give pairs of every kind; 60 keep it quick.
    const key = (v: string) => createHash('sha1').update(v).digest('hex');
    const sample = versions.sort((x, y) => (key(x) < key(y) ? -1 : 1)).slice(0, 61);
    for (let i = 0; i + 1 < sample.length; i++) {
      const a = sample[i] as string;
      const b = sample[i + 1] as string;
      assert.equal(Math.sign(compareDebianVersions(a, b)), await dpkgOrder(a, b), `${a} vs ${b}`);
    }
  });
});
