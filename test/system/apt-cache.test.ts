// The package index against this machine's real dpkg and apt (read only), and its cache against
// a throw-away apt configuration whose lists the test updates itself.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { TimedOutError } from '../../src/errors.js';
import { CandidateReader, PackageIndex } from '../../src/system/apt-cache.js';
import { listDpkgPackages, parseDpkgQuery } from '../../src/system/dpkg.js';
import { createLocalAptRepo, defaultDescription, type LocalAptRepo } from '../helpers/apt-repo.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const run = promisify(execFile);

describe('package records', () => {
  it('reads dumpavail records in any chunking; "" and 0 for a record without description or size', () => {
    const text = [
      'Package: one',
      'Version: 1.0',
      'Installed-Size: 42',
      'Architecture: amd64',
      'Description: première ligne, the summary',
      'Description-md5: 0123456789abcdef',
      ' a continuation line',
      '',
      'Package: two',
      'Architecture: all',
      'Version: 2:3.4-5',
      'Description-md5: 0123456789abcdef',
      'Installed-Size: not a number',
      '',
      'Package: three',
      'Version: 3',
      'Architecture: all',
      '',
    ].join('\n');
    const bytes = Buffer.from(text);
    for (const size of [1, 2, 7, bytes.length]) {
      const reader = new CandidateReader();
      for (let i = 0; i < bytes.length; i += size) reader.push(bytes.subarray(i, i + size));
      assert.deepEqual([...reader.end().values()], [
        { name: 'one', status: 'not-installed', architecture: 'amd64', version: '1.0', summary: 'première ligne, the summary', installedSizeKiB: 42 },
        { name: 'two', status: 'not-installed', architecture: 'all', version: '2:3.4-5', summary: '', installedSizeKiB: 0 },
        { name: 'three', status: 'not-installed', architecture: 'all', version: '3', summary: '', installedSizeKiB: 0 },
      ], `chunks of ${size}`);
    }
  });

  it('reads dpkg-query lines with an empty size and summary', () => {
    assert.deepEqual(parseDpkgQuery('a\tamd64\t1.0\tinstalled\t12\tthe summary\nb\tall\t2\tconfig-files\t\t\n'), [
      { name: 'a', architecture: 'amd64', version: '1.0', status: 'installed', summary: 'the summary', installedSizeKiB: 12 },
      { name: 'b', architecture: 'all', version: '2', status: 'config-files', summary: '', installedSizeKiB: 0 },
    ]);
  });
});

describe('package index on this machine', () => {
  const index = new PackageIndex();

  it('finds the same upgradable packages as `apt list --upgradable`', async () => {
    const { stdout } = await run('apt', ['list', '--upgradable'], { maxBuffer: 64 * 1024 * 1024 });
    const expected = [...stdout.matchAll(/^([^/\s]+)\/\S+ (\S+) (\S+) \[upgradable from/gm)].map((m) => `${m[1]} ${m[2]}`).sort();
    const upgradable = await index.upgradable();
    assert.deepEqual(upgradable.map((p) => `${p.name} ${p.version}`).sort(), expected);
    for (const p of upgradable) assert.equal(p.status, 'upgradable');
  });

  it('answers an installed package with dpkg\'s status, version, summary and size', async () => {
    const dpkg = (await listDpkgPackages()).find((p) => p.name === 'dpkg');
    assert.ok(dpkg);
    const { stdout } = await run('dpkg-query', ['-W', '-f=${Installed-Size}\t${binary:Summary}', 'dpkg']);
    const [size, summary] = stdout.split('\t');
    assert.ok(Number(size) > 0 && summary, stdout);
    const [got] = await index.get('dpkg');
    assert.equal(got?.name, 'dpkg');
    if (got?.status !== 'upgradable') {
      assert.deepEqual(got, { name: 'dpkg', status: 'installed', architecture: dpkg.architecture, version: dpkg.version, summary, installedSizeKiB: Number(size) });
    }
    // Qualifiers of the request do not change what is looked up.
    assert.deepEqual(await index.get(`dpkg:${dpkg.architecture}`), [got]);
    assert.deepEqual(await index.get('dpkg=0.0'), [got]);
  });

  it('answers a package only apt knows as not-installed with its candidate version', async () => {
    const installed = new Set((await listDpkgPackages()).map((p) => p.name));
    const { stdout } = await run('apt-cache', ['search', '--names-only', '^lib.*-dev$'], { maxBuffer: 64 * 1024 * 1024 });
    const name = stdout.split('\n').map((l) => l.split(' ')[0] as string).find((n) => n && !installed.has(n));
    assert.ok(name, 'a package that is not installed');
    const policy = (await run('apt-cache', ['policy', name])).stdout;
    const candidate = /Candidate: (\S+)/.exec(policy)?.[1];
    // The candidate's own record: its Installed-Size and the first line of its Description.
    const show = (await run('apt-cache', ['show', '--no-all-versions', name])).stdout;
    const size = Number(/^Installed-Size: (\d+)$/m.exec(show)?.[1]);
    const summary = /^Description(?:-[\w_]+)?: (.*)$/m.exec(show)?.[1];
    assert.ok(size > 0 && summary, show);
    assert.deepEqual(
      (await index.get(name)).map((p) => [p.name, p.status, p.version, p.summary, p.installedSizeKiB]),
      [[name, 'not-installed', candidate, summary, size]],
    );
  });
});

describe('package index cache', () => {
  let repo: LocalAptRepo;
  const prefix = `ac-test-${randomBytes(3).toString('hex')}`;

  before(async () => {
    repo = await createLocalAptRepo();
    await repo.add({ name: `${prefix}-one`, version: '1.0' });
    await repo.publish();
    await run('apt-get', ['update', '-q'], { env: repo.env });
  });
  after(() => repo.remove());

  it('reads dpkg and apt once, then answers from the cache until apt\'s lists change', async () => {
    const index = new PackageIndex({ env: repo.env });
    const dpkgBefore = (await stat('/var/lib/dpkg/status')).mtimeMs;
    assert.deepEqual((await index.search(prefix)).map((p) => [p.name, p.status, p.version]), [[`${prefix}-one`, 'not-installed', '1.0']]);
    await index.search(prefix);
    await index.get(`${prefix}-one`);
    await Promise.all([index.search('a'), index.search('b'), index.upgradable()]);
    assert.equal(index.reads.apt, 1);
    // Another test file may install packages meanwhile; then dpkg's half is rightly read again.
    if ((await stat('/var/lib/dpkg/status')).mtimeMs === dpkgBefore) assert.equal(index.reads.dpkg, 1);

    await repo.add({ name: `${prefix}-two`, version: '2.0' });
    await repo.publish();
    await run('apt-get', ['update', '-q'], { env: repo.env });
    assert.deepEqual((await index.search(prefix)).map((p) => p.name), [`${prefix}-one`, `${prefix}-two`]);
    // Only the apt half was read again: dpkg's status did not change.
    assert.equal(index.reads.apt, 2);
    index.close();
  });

  it('drops the table once unused for a while, and reads it again when asked', async () => {
    const index = new PackageIndex({ env: repo.env, releaseAfterMs: 50 });
    await index.search(prefix);
    assert.equal(index.holdsTable, true);
    await waitFor(() => !index.holdsTable, 'the table to be released');
    assert.equal((await index.search(prefix)).length, 2);
    assert.equal(index.reads.apt, 2);
    index.close();
  });

  it('gives each package the first line of its description and its Installed-Size', async () => {
    const described = `${prefix}-described`;
    await repo.add({ name: described, version: '3.1', installedSize: 1234, description: 'the summary line\nA long text that is not part of the summary.\n.\nAnother paragraph.' });
    await repo.publish();
    await run('apt-get', ['update', '-q'], { env: repo.env });
    const index = new PackageIndex({ env: repo.env });
    const [got] = await index.get(described);
    assert.deepEqual(got, { name: described, status: 'not-installed', architecture: 'all', version: '3.1', summary: 'the summary line', installedSizeKiB: 1234 });
    const [plain] = await index.get(`${prefix}-one`);
    assert.deepEqual([plain?.summary, plain?.installedSizeKiB], [defaultDescription, 0]);
    index.close();
  });
});

/** Processes whose environment holds `entry` (found through /proc). */
async function processesWithEnv(entry: string): Promise<number[]> {
  const found: number[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const environ = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '');
    if (environ.split('\0').includes(entry)) found.push(Number(pid));
  }
  return found;
}

describe('package index time-outs', () => {
  it('stops an apt query that hangs and answers an error; the next query works again', async () => {
    // dpkg's status file as a FIFO nobody writes to: apt-cache blocks opening it, as on a dead mount.
    const dir = await tempDir('ac-apt-hang-');
    try {
      const status = join(dir.path, 'status');
      await run('mkfifo', [status]);
      await mkdir(join(dir.path, 'lists', 'partial'), { recursive: true });
      await mkdir(join(dir.path, 'parts'));
      await writeFile(join(dir.path, 'sources.list'), '');
      const config = join(dir.path, 'apt.conf');
      const settings = [
        `Dir::State::status "${status}";`,
        `Dir::State::lists "${join(dir.path, 'lists')}";`,
        `Dir::Etc::sourcelist "${join(dir.path, 'sources.list')}";`,
        `Dir::Etc::sourceparts "${join(dir.path, 'parts')}";`,
        'Dir::Cache::pkgcache "";',
        'Dir::Cache::srcpkgcache "";',
      ];
      await writeFile(config, settings.join('\n') + '\n');
      const index = new PackageIndex({ env: { ...process.env, APT_CONFIG: config }, queryTimeoutMs: 500 });
      await assert.rejects(index.search('dpkg'), (err: unknown) => {
        assert.ok(err instanceof TimedOutError, String(err));
        assert.equal(err.message, 'apt-cache dumpavail did not finish within 500 ms and was stopped');
        return true;
      });
      // Nothing of it is left running.
      assert.deepEqual(await processesWithEnv(`APT_CONFIG=${config}`), []);
      // A real (empty) status file in its place: the same index answers, dpkg's own view included.
      await unlink(status);
      await writeFile(status, '');
      const found = await index.search('dpkg');
      assert.ok(found.some((p) => p.name === 'dpkg' && p.status === 'installed'), JSON.stringify(found));
      index.close();
    } finally {
      await dir.remove();
    }
  });
});
