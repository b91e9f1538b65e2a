// Repository editing on copies of real sources files (the seed's one-line examples and the deb822
// files of Debian 12), checked byte for byte, and read back by apt itself.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ConflictError, InvalidError, NotFoundError } from '../../src/errors.js';
import { AptSources, type RepositoryFields } from '../../src/system/apt-sources.js';
import { formatSourceLine, parseSourceLine } from '../../src/system/apt-sources/one-line.js';
import { debianSources, seedPpaList, seedSourcesList } from '../helpers/apt-fixtures.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);

const repo = (fields: Partial<RepositoryFields> & Pick<RepositoryFields, 'uri' | 'distribution'>): RepositoryFields => ({
  enabled: true,
  sourceRepo: false,
  options: '',
  components: 'main',
  comment: '',
  ...fields,
});

const debian = (distribution: string, sourceRepo = false) =>
  repo({ uri: 'http://deb.debian.org/debian', distribution, sourceRepo, components: 'main contrib', options: 'signed-by=/usr/share/keyrings/debian-archive-keyring.gpg' });

/** The InRelease files apt would fetch for these sources: apt's own reading of our files. */
async function aptReleaseFiles(configDir: string, scratch: string): Promise<string[]> {
  await mkdir(join(scratch, 'lists/partial'), { recursive: true });
  const { stdout } = await run('apt-get', [
    '-o', `Dir::Etc::sourcelist=${join(configDir, 'sources.list')}`,
    '-o', `Dir::Etc::sourceparts=${join(configDir, 'sources.list.d')}`,
    '-o', `Dir::State::lists=${join(scratch, 'lists')}`,
    'update', '--print-uris',
  ]);
  return [...stdout.matchAll(/^'([^']+\/InRelease)'/gm)].map((m) => m[1] as string).sort();
}

function releaseFilesOf(repos: RepositoryFields[]): string[] {
  const set = new Set(repos.filter((r) => r.enabled).map((r) => `${r.uri.replace(/\/$/, '')}/dists/${r.distribution}/InRelease`));
  return [...set].sort();
}

describe('apt sources on copies of real files', () => {
  let dir: { path: string; remove(): Promise<void> };
  let sources: AptSources;
  const file = (name: string) => join(dir.path, name);
  const read = (name: string) => readFile(file(name), 'utf8');

  beforeEach(async () => {
    dir = await tempDir('ac-sources-');
    await mkdir(file('sources.list.d'));
    await writeFile(file('sources.list'), seedSourcesList);
    await writeFile(file('sources.list.d/webupd8team-java.list'), seedPpaList);
    await writeFile(file('sources.list.d/debian.sources'), debianSources);
    // apt ignores these names, and so must the agent.
    await writeFile(file('sources.list.d/old.list.disabled'), 'deb http://example.invalid/ignored stable main\n');
    await writeFile(file('sources.list.d/debian.sources.bak'), 'Types: deb\nURIs: http://example.invalid\nSuites: x\n');
    sources = new AptSources(dir.path);
  });
  afterEach(() => dir.remove());

  it('lists one-line and deb822 repositories in the order apt reads them', async () => {
    const repos = (await sources.list()).map((l) => l.repo);
    assert.deepEqual(repos, [
      repo({ uri: 'http://it.archive.ubuntu.com/ubuntu/', distribution: 'zesty', components: 'main restricted' }),
      repo({ uri: 'http://it.archive.ubuntu.com/ubuntu/', distribution: 'zesty', components: 'main restricted', sourceRepo: true }),
      repo({ uri: 'http://it.archive.ubuntu.com/ubuntu/', distribution: 'zesty-updates', components: 'main restricted' }),
      repo({ uri: 'http://it.archive.ubuntu.com/ubuntu/', distribution: 'trusty-updates', components: 'main restricted', sourceRepo: true, enabled: false }),
      repo({ uri: 'http://dl.google.com/linux/chrome/deb/', distribution: 'stable', options: 'arch=amd64' }),
      repo({ uri: 'https://apt.dockerproject.org/repo', distribution: 'ubuntu-xenial', options: 'arch=amd64', enabled: false, comment: 'disabled on upgrade to yakkety' }),
      repo({
        uri: 'http://download.ebz.epson.net/dsc/op/stable/debian/',
        distribution: 'lsb3.2',
        enabled: false,
        comment: 'disabled on upgrade to trusty disabled on upgrade to utopic',
      }),
      debian('bookworm'),
      debian('bookworm-updates'),
      debian('bookworm', true),
      debian('bookworm-updates', true),
      repo({ uri: 'http://deb.debian.org/debian-security', distribution: 'bookworm-security', options: 'arch=amd64,arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg' }),
      repo({ uri: 'http://ppa.launchpad.net/webupd8team/java/ubuntu', distribution: 'zesty' }),
      repo({ uri: 'http://ppa.launchpad.net/webupd8team/java/ubuntu', distribution: 'zesty', sourceRepo: true, enabled: false }),
    ]);
    // apt reads the same enabled repositories from these files.
    assert.deepEqual(await aptReleaseFiles(dir.path, join(dir.path, 'scratch')), releaseFilesOf(repos));
  });

  it('adds to sources.list.d/managed.list, leaving every other file untouched', async () => {
    const before = [await read('sources.list'), await read('sources.list.d/debian.sources')];
    const added = repo({ uri: 'http://ppa.launchpad.net/kicad/kicad-4/ubuntu', distribution: 'xenial', options: 'arch=amd64 signed-by=/etc/apt/keyrings/kicad.gpg', comment: 'added by a test' });
    await sources.add(added);
    await sources.add({ ...added, sourceRepo: true, enabled: false, comment: '' });
    assert.equal(
      await read('sources.list.d/managed.list'),
      'deb [arch=amd64 signed-by=/etc/apt/keyrings/kicad.gpg] http://ppa.launchpad.net/kicad/kicad-4/ubuntu xenial main # added by a test\n' +
        '# deb-src [arch=amd64 signed-by=/etc/apt/keyrings/kicad.gpg] http://ppa.launchpad.net/kicad/kicad-4/ubuntu xenial main\n',
    );
    assert.equal((await stat(file('sources.list.d/managed.list'))).mode & 0o777, 0o644);
    assert.deepEqual([await read('sources.list'), await read('sources.list.d/debian.sources')], before);
    const listed = (await sources.list()).map((l) => l.repo);
    assert.deepEqual(
      listed.filter((r) => r.uri === added.uri),
      [added, { ...added, sourceRepo: true, enabled: false, comment: '' }],
    );
    assert.deepEqual(await aptReleaseFiles(dir.path, join(dir.path, 'scratch')), releaseFilesOf(listed));
  });

  it('refuses to add a repository that exists, whatever its enabled flag or comment', async () => {
    const existing = repo({ uri: 'http://it.archive.ubuntu.com/ubuntu/', distribution: 'trusty-updates', components: 'main restricted', sourceRepo: true });
    await assert.rejects(sources.add({ ...existing, comment: 'again' }), (err: Error) => err instanceof ConflictError && /already configured in .*sources\.list/.test(err.message));
    await assert.rejects(sources.add(debian('bookworm-updates', true)), /already configured in .*debian\.sources/);
    await assert.rejects(stat(file('sources.list.d/managed.list')), /ENOENT/);
  });

  it('refuses repositories that cannot be written as one line, changing nothing', async () => {
    for (const bad of [
      repo({ uri: 'http://example.invalid', distribution: 'x', options: 'arch=amd64] deb http://evil' }),
      repo({ uri: 'http://example.invalid', distribution: 'x', options: 'not-an-option' }),
      repo({ uri: 'http://example.invalid', distribution: 'x', components: 'main # hidden' }),
      repo({ uri: '[trusted=yes]', distribution: 'x' }),
    ]) {
      await assert.rejects(sources.add(bad), InvalidError);
    }
    await assert.rejects(stat(file('sources.list.d/managed.list')), /ENOENT/);
  });

  it('removes a one-line repository: only its line goes, the old file is kept as .bak', async () => {
    const before = await read('sources.list');
    await sources.remove(repo({ uri: 'http://dl.google.com/linux/chrome/deb/', distribution: 'stable', options: 'arch=amd64', enabled: false }));
    assert.equal(await read('sources.list'), before.replace('deb [arch=amd64]   http://dl.google.com/linux/chrome/deb/ stable main\n', ''));
    assert.equal(await read('sources.list.bak'), before);
    // A disabled one is removed the same way.
    await sources.remove(repo({ uri: 'http://ppa.launchpad.net/webupd8team/java/ubuntu', distribution: 'zesty', sourceRepo: true }));
    assert.equal(await read('sources.list.d/webupd8team-java.list'), 'deb http://ppa.launchpad.net/webupd8team/java/ubuntu zesty main\n');
  });

  it('answers removing or editing a repository that does not exist with a clear error', async () => {
    const missing = repo({ uri: 'http://example.invalid/debian', distribution: 'nowhere' });
    await assert.rejects(sources.remove(missing), (err: Error) => err instanceof NotFoundError && /^no such repository: "deb http:\/\/example.invalid\/debian nowhere main"$/.test(err.message));
    await assert.rejects(sources.edit(missing, { ...missing, distribution: 'elsewhere' }), /no such repository/);
    // Same URI and suite but other components is another repository.
    await assert.rejects(sources.remove(repo({ uri: 'http://it.archive.ubuntu.com/ubuntu/', distribution: 'zesty', components: 'main' })), /no such repository/);
  });

  it('edits a one-line repository in place', async () => {
    const before = await read('sources.list');
    const old = repo({ uri: 'http://it.archive.ubuntu.com/ubuntu/', distribution: 'trusty-updates', components: 'main restricted', sourceRepo: true });
    await sources.edit(old, { ...old, distribution: 'zesty-updates', enabled: true, comment: 're-enabled' });
    assert.equal(
      await read('sources.list'),
      before.replace(
        '# deb-src http://it.archive.ubuntu.com/ubuntu/ trusty-updates main restricted\n',
        'deb-src http://it.archive.ubuntu.com/ubuntu/ zesty-updates main restricted # re-enabled\n',
      ),
    );
  });

  it('refuses an edit onto a repository that already exists', async () => {
    const before = await read('sources.list');
    const old = repo({ uri: 'http://it.archive.ubuntu.com/ubuntu/', distribution: 'trusty-updates', components: 'main restricted', sourceRepo: true });
    await assert.rejects(sources.edit(old, { ...old, distribution: 'zesty' }), ConflictError);
    assert.equal(await read('sources.list'), before);
  });

  it('removes one repository of a deb822 stanza and keeps the others', async () => {
    await sources.remove(debian('bookworm-updates', true));
    const repos = (await sources.list()).map((l) => l.repo).filter((r) => r.uri === 'http://deb.debian.org/debian');
    assert.deepEqual(repos, [debian('bookworm'), debian('bookworm-updates'), debian('bookworm', true)]);
    const text = await read('sources.list.d/debian.sources');
    // The first stanza's lines survive as they were; the security stanza is byte for byte.
    assert.ok(text.includes('# http://snapshot.debian.org/archive/debian/20250520T000000Z\n'));
    assert.ok(text.endsWith(debianSources.slice(debianSources.indexOf('\n# The security archive.'))));
    assert.equal(await read('sources.list.d/debian.sources.bak'), debianSources);
    assert.deepEqual(await aptReleaseFiles(dir.path, join(dir.path, 'scratch')), releaseFilesOf((await sources.list()).map((l) => l.repo)));
  });

  it('edits one repository of a deb822 stanza and keeps the others', async () => {
    await sources.edit(debian('bookworm-updates'), { ...debian('bookworm-backports'), options: 'arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg' });
    const repos = (await sources.list()).map((l) => l.repo).filter((r) => r.uri === 'http://deb.debian.org/debian');
    assert.deepEqual(repos, [
      debian('bookworm', true),
      debian('bookworm-updates', true),
      debian('bookworm'),
      { ...debian('bookworm-backports'), options: 'signed-by=/usr/share/keyrings/debian-archive-keyring.gpg arch=arm64' },
    ]);
    assert.deepEqual(await aptReleaseFiles(dir.path, join(dir.path, 'scratch')), releaseFilesOf((await sources.list()).map((l) => l.repo)));
  });

  it('edits a single-repository stanza in place: comments and untouched fields stay', async () => {
    const security = (await sources.list()).map((l) => l.repo).find((r) => r.distribution === 'bookworm-security') as RepositoryFields;
    await sources.edit(security, { ...security, enabled: false });
    const text = await read('sources.list.d/debian.sources');
    assert.equal(
      text.slice(text.indexOf('# The security archive.')),
      [
        '# The security archive.',
        'Types: deb',
        'URIs: http://deb.debian.org/debian-security',
        'Suites: bookworm-security',
        'Components: main',
        'Architectures: amd64 arm64',
        'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg',
        'Enabled: no',
        '',
      ].join('\n'),
    );
    assert.equal((await sources.list()).find((l) => l.repo.distribution === 'bookworm-security')?.repo.enabled, false);
    // Removing the whole stanza takes its separating blank line along, nothing else.
    await sources.remove(security);
    assert.equal(await read('sources.list.d/debian.sources'), debianSources.slice(0, debianSources.indexOf('\n# The security archive.')));
  });

  it('keeps an embedded Signed-By key block when other options change', async () => {
    const keyBlock = [
      'Types: deb',
      'URIs: https://repo.example.invalid/debian',
      'Suites: stable',
      'Components: main',
      'Signed-By:',
      ' -----BEGIN PGP PUBLIC KEY BLOCK-----',
      ' .',
      ' mDMEZxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
      ' -----END PGP PUBLIC KEY BLOCK-----',
      '',
    ].join('\n');
    await writeFile(file('sources.list.d/vendor.sources'), keyBlock);
    const vendor = (await sources.list()).find((l) => l.repo.uri === 'https://repo.example.invalid/debian')?.repo as RepositoryFields;
    assert.equal(vendor.options, '');
    await sources.edit(vendor, { ...vendor, options: 'arch=amd64', components: 'main non-free' });
    assert.equal(await read('sources.list.d/vendor.sources'), `${keyBlock.replace('Components: main\n', 'Components: main non-free\n')}Architectures: amd64\n`);
  });

  it('parses and formats single lines the way apt writes them', () => {
    assert.equal(parseSourceLine('## deb http://example.invalid x main'), undefined);
    assert.equal(parseSourceLine('debian http://example.invalid x main'), undefined);
    const flat = parseSourceLine('deb [trusted=yes] file:/srv/repo ./');
    assert.deepEqual(flat, repo({ uri: 'file:/srv/repo', distribution: './', options: 'trusted=yes', components: '' }));
    assert.equal(formatSourceLine(flat as RepositoryFields), 'deb [trusted=yes] file:/srv/repo ./');
    const crlf = parseSourceLine('deb http://example.invalid x main\r');
    assert.equal(crlf?.components, 'main');
  });
});
