// apt/repos/* over a real broker, on copies of sources files (apt_config_dir points at them).

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { decodeBody, type Reply, type Repository } from '../../src/api.js';
import { WritableMount } from '../../src/system/ro-fs.js';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import { debianSources, seedPpaList, seedSourcesList } from '../helpers/apt-fixtures.js';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);

async function writeFixtures(dir: string): Promise<void> {
  await mkdir(join(dir, 'sources.list.d'), { recursive: true });
  await writeFile(join(dir, 'sources.list'), seedSourcesList);
  await writeFile(join(dir, 'sources.list.d/webupd8team-java.list'), seedPpaList);
  await writeFile(join(dir, 'sources.list.d/debian.sources'), debianSources);
}

function body<T>(reply: Reply): T {
  assert.ok(reply.ok, `expected INFO, got ERROR: ${reply.ok ? '' : reply.message}`);
  return decodeBody(reply.body) as T;
}

function errorOf(reply: Reply): string {
  assert.equal(reply.ok, false, 'expected ERROR');
  return reply.ok ? '' : reply.message;
}

const ppa: Repository = {
  enabled: true,
  sourceRepo: false,
  options: 'arch=amd64',
  uri: 'http://ppa.launchpad.net/kicad/kicad-4/ubuntu',
  distribution: 'xenial',
  components: 'main',
  comment: '',
};

describe('apt/repos over a real broker', () => {
  let broker: Broker;
  let t: TestAgent;
  let dir: { path: string; remove(): Promise<void> };
  const snapshot = async () =>
    Promise.all(['sources.list', 'sources.list.d/webupd8team-java.list', 'sources.list.d/debian.sources'].map((f) => readFile(join(dir.path, f), 'utf8')));

  before(async () => {
    dir = await tempDir('ac-repos-');
    await writeFixtures(dir.path);
    broker = await startMosquitto();
    t = await startTestAgent(broker.url, { apt_config_dir: dir.path });
  });
  after(async () => {
    await t?.stop();
    await broker?.close();
    await dir?.remove();
  });

  it('lists every repository with every field', async () => {
    const repos = body<Repository[]>(await t.client.call('apt/repos/list', {}));
    assert.equal(repos.length, 14);
    for (const r of repos) assert.deepEqual(Object.keys(r), ['enabled', 'sourceRepo', 'options', 'uri', 'distribution', 'components', 'comment']);
    assert.deepEqual(repos[5], {
      enabled: false,
      sourceRepo: false,
      options: 'arch=amd64',
      uri: 'https://apt.dockerproject.org/repo',
      distribution: 'ubuntu-xenial',
      components: 'main',
      comment: 'disabled on upgrade to yakkety',
    });
  });

  it('adds, refuses a second add, edits and removes', async () => {
    const before = await snapshot();
    assert.equal(body<string>(await t.client.call('apt/repos/add', { repository: ppa })), 'OK');
    assert.match(errorOf(await t.client.call('apt/repos/add', { repository: { ...ppa, comment: 'again' } })), /already configured in .*managed\.list/);
    assert.equal(await readFile(join(dir.path, 'sources.list.d/managed.list'), 'utf8'), 'deb [arch=amd64] http://ppa.launchpad.net/kicad/kicad-4/ubuntu xenial main\n');

    const edited = { ...ppa, distribution: 'bionic', enabled: false };
    assert.equal(body<string>(await t.client.call('apt/repos/edit', { old_repository: ppa, new_repository: edited })), 'OK');
    assert.equal(await readFile(join(dir.path, 'sources.list.d/managed.list'), 'utf8'), '# deb [arch=amd64] http://ppa.launchpad.net/kicad/kicad-4/ubuntu bionic main\n');
    assert.match(errorOf(await t.client.call('apt/repos/edit', { old_repository: ppa, new_repository: edited })), /no such repository/);

    assert.equal(body<string>(await t.client.call('apt/repos/remove', { repository: edited })), 'OK');
    assert.match(errorOf(await t.client.call('apt/repos/remove', { repository: edited })), /no such repository/);
    assert.equal(await readFile(join(dir.path, 'sources.list.d/managed.list'), 'utf8'), '');
    assert.deepEqual(await snapshot(), before);
  });

  it('reads field names case-insensitively, as the seed does', async () => {
    const upper = { Enabled: true, SourceRepo: false, Options: '', URI: 'http://example.invalid/debian', Distribution: 'stable', Components: 'main', Comment: '' };
    assert.equal(body<string>(await t.client.callRaw('apt/repos/add', JSON.stringify({ repository: upper }))), 'OK');
    const listed = body<Repository[]>(await t.client.call('apt/repos/list', {}));
    assert.ok(listed.some((r) => r.uri === 'http://example.invalid/debian' && r.distribution === 'stable'));
    assert.equal(body<string>(await t.client.callRaw('apt/repos/remove', JSON.stringify({ repository: upper }))), 'OK');
  });

  it('edits one suite of a deb822 stanza over MQTT and keeps the others', async () => {
    const repos = body<Repository[]>(await t.client.call('apt/repos/list', {}));
    const updates = repos.find((r) => r.distribution === 'bookworm-updates' && !r.sourceRepo) as Repository;
    assert.equal(body<string>(await t.client.call('apt/repos/edit', { old_repository: updates, new_repository: { ...updates, distribution: 'bookworm-backports' } })), 'OK');
    const after = body<Repository[]>(await t.client.call('apt/repos/list', {}));
    assert.deepEqual(
      after.filter((r) => r.uri === 'http://deb.debian.org/debian').map((r) => `${r.sourceRepo ? 'deb-src' : 'deb'} ${r.distribution}`),
      ['deb-src bookworm', 'deb-src bookworm-updates', 'deb bookworm', 'deb bookworm-backports'],
    );
  });

  it('answers malformed and dangerous requests with ERROR: and changes nothing', async () => {
    const before = await snapshot();
    const bad: [string, RegExp][] = [
      ['{test}', /invalid JSON/],
      ['{}', /"repository": missing/],
      [JSON.stringify({ repository: { ...ppa, uri: undefined } }), /uri: missing/],
      [JSON.stringify({ repository: { ...ppa, uri: 'http://x y' } }), /uri: must be a URI without spaces/],
      [JSON.stringify({ repository: { ...ppa, components: 'main\ndeb http://evil stable main' } }), /components: must not contain a newline/],
      [JSON.stringify({ repository: { ...ppa, comment: 'x\rdeb http://evil stable main' } }), /comment: must not contain a newline/],
      [JSON.stringify({ repository: { ...ppa, options: 'arch=amd64] http://evil' } }), /options must not contain/],
      [JSON.stringify({ repository: { ...ppa, enabled: 'yes' } }), /enabled: expected true or false/],
      [JSON.stringify({ old_repository: ppa }), /"new_repository": missing|"old_repository"/],
    ];
    for (const [payload, expected] of bad) {
      const command = payload.includes('old_repository') ? 'apt/repos/edit' : 'apt/repos/add';
      assert.match(errorOf(await t.client.callRaw(command, payload)), expected, payload);
    }
    assert.deepEqual(await snapshot(), before);
    assert.equal((await t.client.call('status', {})).ok, true);
  });
});

describe('apt/repos with -check_ro_fs', () => {
  it('makes the configuration writable for the change only', async () => {
    const dir = await tempDir('ac-repos-ro-');
    await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir.path]);
    const broker = await startMosquitto();
    let t: TestAgent | undefined;
    try {
      await writeFixtures(dir.path);
      await run('mount', ['-o', 'remount,ro', dir.path]);
      const writable = new WritableMount({ enabled: true, mountPoint: dir.path });
      t = await startTestAgent(broker.url, { apt_config_dir: dir.path, check_ro_fs: true }, { writable });
      assert.equal(body<string>(await t.client.call('apt/repos/add', { repository: ppa })), 'OK');
      assert.match(await readFile(join(dir.path, 'sources.list.d/managed.list'), 'utf8'), /kicad/);
      const { stdout } = await run('findmnt', ['-n', '-o', 'OPTIONS', '--mountpoint', dir.path]);
      assert.ok(stdout.split(',').includes('ro'), stdout);
    } finally {
      await t?.stop();
      await broker.close();
      await run('umount', [dir.path]).catch(() => {});
      await dir.remove();
    }
  });
});
