// apt/* against the real dpkg and apt of this machine: throw-away packages built here, served by
// a local file repository through a test-only apt configuration, installed, upgraded and removed
// for real (and purged at the end). This is the only test file that changes dpkg's database:
// dpkg has one global lock.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { decodeBody, decodeStream, topics, type AptListBody, type AptPackagesBody, type AptProgressLine, type CommandOutputBody } from '../../src/api.js';
import type { Reply } from '../../src/api.js';
import { TimedOutError } from '../../src/errors.js';
import { AptGet } from '../../src/system/apt-get.js';
import { WritableMount } from '../../src/system/ro-fs.js';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import { createLocalAptRepo, defaultDescription, type LocalAptRepo } from '../helpers/apt-repo.js';
import { dpkgFields, dpkgStatus, mountIsReadOnly, processesWith } from '../helpers/apt-system.js';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const run = promisify(execFile);

const prefix = `ac-test-${randomBytes(3).toString('hex')}`;
const alpha = `${prefix}-alpha`;
const beta = `${prefix}-beta`;
const gamma = `${prefix}-gamma`;
const slow = `${prefix}-slow`;
// Packages of the time-out and output-cap tests: another prefix, so the searches above do not see them.
const other = `ac-apt-${randomBytes(3).toString('hex')}`;
const chatty = `${other}-chatty`;
const failing = `${other}-failing`;
const hung = `${other}-hung`;
const all = [alpha, beta, gamma, slow, chatty, failing, hung];
/** A sleep nobody else runs, so the test can tell that the hung postinst's sleep is gone. */
const hungSleep = `${3000 + Math.floor(Math.random() * 1000)}.${randomBytes(2).readUInt16BE(0)}`;
const conffile = `/etc/${alpha}.conf`;

/** alpha's Description and Installed-Size differ by version, so an answer shows whose it gave. */
const alphaDescribed = (version: string, installedSize: number) => ({
  description: `alpha, version ${version}\nThe long text, which apt/get and apt/list leave out.`,
  installedSize,
});

function body<T>(reply: Reply): T {
  assert.ok(reply.ok, `expected INFO, got ERROR: ${reply.ok ? '' : reply.message}`);
  return decodeBody(reply.body) as T;
}

describe('apt packages over a real broker, dpkg and apt', () => {
  let broker: Broker;
  let repo: LocalAptRepo;
  let t: TestAgent;
  let mount: { path: string; remove(): Promise<void> };
  let markers: { path: string; remove(): Promise<void> };
  const progress: AptProgressLine[] = [];
  let heartbeats = 0;
  const savedAptConfig = process.env.APT_CONFIG;


  before(async () => {
    repo = await createLocalAptRepo();
    // The agent's apt and dpkg programs inherit it, as they would any administrator's APT_CONFIG.
    process.env.APT_CONFIG = repo.env.APT_CONFIG;
    // A file system of our own, read-only, stands in for "/" of a -check_ro_fs device.
    mount = await tempDir('ac-rofs-');
    await run('mount', ['-t', 'tmpfs', '-o', 'size=1m,ro', 'tmpfs', mount.path]);
    await repo.add({ name: alpha, version: '1.0', conffiles: { [conffile]: 'setting=packaged-1\n' }, ...alphaDescribed('1.0', 11) });
    await repo.add({ name: beta, version: '1.0', installedSize: 5 });
    await repo.add({ name: gamma, version: '1.0' });
    await repo.add({ name: slow, version: '1.0', postinst: `touch ${join(mount.path, 'written-by-postinst')}\nsleep 2` });
    markers = await tempDir('ac-apt-markers-');
    await repo.add({ name: chatty, version: '1.0', postinst: 'seq 1 15000' });
    await repo.add({ name: failing, version: '1.0', postinst: 'seq 1 15000\necho "postinst fails on purpose" >&2\nexit 1' });
    // Hangs the first time only: the marker is gone when it runs again.
    const marker = join(markers.path, 'hang');
    await writeFile(marker, '');
    await repo.add({ name: hung, version: '1.0', postinst: `if [ -e ${marker} ]; then rm ${marker}; sleep ${hungSleep}; fi` });
    await repo.publish();
    broker = await startMosquitto();
    t = await startTestAgent(broker.url, { heartbeat_interval: 0.2 }, {
      writable: new WritableMount({ enabled: true, mountPoint: mount.path }),
    });
    await t.client.follow(topics.aptProgress(t.agent.base), (_topic, payload) => progress.push(decodeStream('apt/progress', payload.toString())));
    await t.client.follow(topics.heartbeat(t.agent.base), () => heartbeats++);
  });

  after(async () => {
    await run('dpkg', ['--purge', ...all]).catch(() => {});
    await t?.stop();
    await broker?.close();
    await run('umount', [mount.path]).catch(() => {});
    await mount?.remove();
    await markers?.remove();
    await repo?.remove();
    if (savedAptConfig === undefined) delete process.env.APT_CONFIG;
    else process.env.APT_CONFIG = savedAptConfig;
  });

  it('apt/update reads the local repository and streams its progress', async () => {
    const { output } = body<CommandOutputBody>(await t.client.call('apt/update', {}, 60_000));
    assert.match(output, /Reading package lists/);
    await waitFor(() => progress.some((p) => p.command === 'apt/update' && /Reading package lists/.test(p.line)), 'update progress');
    assert.ok(await mountIsReadOnly(mount.path), 'read-only again after the command');
  });

  it('apt/list with search lists installable packages sorted by name, 30 a page', async () => {
    const list = body<AptListBody>(await t.client.call('apt/list', { search: prefix }));
    assert.deepEqual(
      list.packages.map((p) => [p.Name, p.Status, p.Version, p.Architecture]),
      [alpha, beta, gamma, slow].sort().map((n) => [n, 'not-installed', '1.0', 'all']),
    );
    assert.equal(list.page, 0);
    assert.equal(list.pages, 1);
    assert.equal(list.total_items, 4);
    // Upper case finds the same (Debian names are lower case).
    assert.equal(body<AptListBody>(await t.client.call('apt/list', { search: prefix.toUpperCase() })).total_items, 4);
  });

  it('answers a page past the end with an empty list', async () => {
    const list = body<AptListBody>(await t.client.call('apt/list', { search: prefix, page: 7 }));
    assert.deepEqual(list, { packages: [], page: 7, pages: 1, total_items: 4 });
  });

  it('answers a search without a match as one empty page, as the Go agent did', async () => {
    assert.deepEqual(body<AptListBody>(await t.client.call('apt/list', { search: `${prefix}-nothing` })), { packages: [], page: 0, pages: 1, total_items: 0 });
    assert.deepEqual(body<AptListBody>(await t.client.call('apt/list', { search: `${prefix}-nothing`, page: 2 })), { packages: [], page: 2, pages: 1, total_items: 0 });
  });

  it('pages a long search: 30 a page, sorted, the last one partial', async () => {
    // Installed packages from dpkg are part of the search too: "lib" matches hundreds here.
    const first = body<AptListBody>(await t.client.call('apt/list', { search: 'lib' }));
    assert.ok(first.total_items > 30, `total ${first.total_items}`);
    assert.equal(first.packages.length, 30);
    assert.equal(first.pages, Math.ceil(first.total_items / 30));
    const last = body<AptListBody>(await t.client.call('apt/list', { search: 'lib', page: first.pages - 1 }));
    assert.equal(last.packages.length, first.total_items - 30 * (first.pages - 1));
    for (const page of [first, last]) {
      const names = page.packages.map((p) => p.Name);
      assert.deepEqual(names, [...names].sort());
      for (const p of page.packages) assert.ok(p.Name.includes('lib'));
    }
  });

  it('apt/get answers one package, or an empty list for an unknown one', async () => {
    assert.deepEqual(body<AptPackagesBody>(await t.client.call('apt/get', { package: beta })).packages, [
      { Name: beta, Status: 'not-installed', Architecture: 'all', Version: '1.0', ShortDescription: defaultDescription, InstalledSizeKB: 5 },
    ]);
    assert.deepEqual(body<AptPackagesBody>(await t.client.call('apt/get', { package: alpha })).packages, [
      { Name: alpha, Status: 'not-installed', Architecture: 'all', Version: '1.0', ShortDescription: 'alpha, version 1.0', InstalledSizeKB: 11 },
    ]);
    assert.deepEqual(body<AptPackagesBody>(await t.client.call('apt/get', { package: `${prefix}-nothing` })).packages, []);
    const dpkg = body<AptPackagesBody>(await t.client.call('apt/get', { package: 'dpkg' })).packages;
    assert.equal(dpkg.length, 1);
    assert.equal(dpkg[0]?.Status, 'installed');
    assert.deepEqual([String(dpkg[0]?.InstalledSizeKB), dpkg[0]?.ShortDescription], await dpkgFields('dpkg'));
    assert.equal(typeof dpkg[0]?.InstalledSizeKB, 'number');
  });

  it('refuses option injection, shell characters, newlines and empty lists before anything runs', async () => {
    const before = progress.length;
    const statusBefore = await readFile('/var/lib/dpkg/status', 'utf8');
    const bad = ['-o', '--purge', '-oDir::Etc::sourcelist=/tmp/x', `${alpha};touch /tmp/x`, `${alpha} ${beta}`, `${alpha}\n${beta}`, '$(reboot)', '`id`', `${alpha}|cat`, '', 'Alpha', '../x'];
    for (const command of ['apt/install', 'apt/remove', 'apt/upgrade'] as const) {
      for (const name of bad) {
        const reply = await t.client.callRaw(command, JSON.stringify({ packages: [name] }));
        assert.equal(reply.ok, false, `${command} ${JSON.stringify(name)}`);
        assert.match(reply.ok ? '' : reply.message, /"packages"\[0\]/);
      }
    }
    for (const command of ['apt/install', 'apt/remove'] as const) {
      const reply = await t.client.callRaw(command, '{"packages":[]}');
      assert.equal(reply.ok, false);
      assert.match(reply.ok ? '' : reply.message, /at least 1/);
    }
    for (const payload of ['{"packages":"alpha"}', '{"packages":[1]}', '{}']) {
      assert.equal((await t.client.callRaw('apt/install', payload)).ok, false, payload);
    }
    assert.equal((await t.client.callRaw('apt/get', JSON.stringify({ package: '--help' }))).ok, false);
    assert.equal((await t.client.callRaw('apt/list', JSON.stringify({ search: 'a b' }))).ok, false);
    assert.equal((await t.client.callRaw('apt/list', JSON.stringify({ page: -1 }))).ok, false);
    // Nothing ran: no progress line, dpkg's database untouched, the agent still answers.
    assert.equal(progress.length, before);
    assert.equal(await readFile('/var/lib/dpkg/status', 'utf8'), statusBefore);
    assert.equal((await t.client.call('status', {})).ok, true);
  });

  it('installs a package for real; the cached index sees the change', async () => {
    const { output } = body<CommandOutputBody>(await t.client.call('apt/install', { packages: [alpha] }, 120_000));
    assert.match(output, new RegExp(`Setting up ${alpha} \\(1\\.0\\)`));
    assert.equal(await dpkgStatus(alpha), 'installed 1.0');
    assert.equal(await readFile(conffile, 'utf8'), 'setting=packaged-1\n');
    // Now dpkg's record answers.
    assert.deepEqual(await dpkgFields(alpha), ['11', 'alpha, version 1.0']);
    assert.deepEqual(body<AptPackagesBody>(await t.client.call('apt/get', { package: alpha })).packages, [
      { Name: alpha, Status: 'installed', Architecture: 'all', Version: '1.0', ShortDescription: 'alpha, version 1.0', InstalledSizeKB: 11 },
    ]);
    assert.ok(await mountIsReadOnly(mount.path));
  });

  it('keeps answering status while a long apt command runs; the file system is writable only meanwhile', async () => {
    let finished = false;
    const install = t.client.call('apt/install', { packages: [slow] }, 120_000).then((reply) => {
      finished = true;
      return reply;
    });
    // The postinst sleeps: apt-get is running it now.
    await waitFor(() => progress.some((p) => p.command === 'apt/install' && p.line.includes(`Setting up ${slow}`)), 'the postinst to start', 60_000);
    const status = await t.client.call('status', {}, 5000);
    assert.equal(status.ok, true);
    const beats = heartbeats;
    await waitFor(() => heartbeats > beats, 'a heartbeat');
    assert.equal(finished, false, 'status and heartbeat came while apt-get still ran');
    assert.equal(await mountIsReadOnly(mount.path), false);
    body<CommandOutputBody>(await install);
    assert.equal(await dpkgStatus(slow), 'installed 1.0');
    // The postinst could write there; now it is read-only again.
    await readFile(join(mount.path, 'written-by-postinst'));
    assert.ok(await mountIsReadOnly(mount.path));
    await assert.rejects(writeFile(join(mount.path, 'after'), 'x'), /EROFS/);
  });

  it('queues two concurrent requests: both answered, one after the other', async () => {
    const from = progress.length;
    const [first, second] = await Promise.all([
      t.client.call('apt/install', { packages: [beta] }, 120_000),
      t.client.call('apt/install', { packages: [gamma] }, 120_000),
    ]);
    assert.match(body<CommandOutputBody>(first).output, new RegExp(`Setting up ${beta}`));
    assert.match(body<CommandOutputBody>(second).output, new RegExp(`Setting up ${gamma}`));
    assert.equal(await dpkgStatus(beta), 'installed 1.0');
    assert.equal(await dpkgStatus(gamma), 'installed 1.0');
    // The two runs' lines did not interleave: each run's lines form one block.
    await waitFor(() => new Set(progress.slice(from).map((p) => p.run)).size === 2, 'progress of both runs');
    const runs = progress.slice(from).map((p) => p.run);
    const blocks = runs.filter((r, i) => i === 0 || r !== runs[i - 1]);
    assert.equal(blocks.length, 2, `runs interleaved: ${blocks.join(',')}`);
  });

  it('upgrades a named package, keeping a locally changed conffile without asking', async () => {
    await writeFile(conffile, 'setting=changed-by-the-admin\n');
    await repo.add({ name: alpha, version: '2.0', conffiles: { [conffile]: 'setting=packaged-2\n' }, ...alphaDescribed('2.0', 22) });
    await repo.publish();
    body<CommandOutputBody>(await t.client.call('apt/update', {}, 60_000));
    const upgradable = body<AptListBody>(await t.client.call('apt/list', {}));
    // The version it would be upgraded to, with that version's summary and size.
    assert.deepEqual(upgradable.packages, [
      { Name: alpha, Status: 'upgradable', Architecture: 'all', Version: '2.0', ShortDescription: 'alpha, version 2.0', InstalledSizeKB: 22 },
    ]);
    assert.equal(upgradable.total_items, 1);
    assert.equal(body<AptPackagesBody>(await t.client.call('apt/get', { package: alpha })).packages[0]?.Status, 'upgradable');

    const { output } = body<CommandOutputBody>(await t.client.call('apt/upgrade', { packages: [alpha] }, 120_000));
    assert.match(output, new RegExp(`Setting up ${alpha} \\(2\\.0\\)`));
    assert.equal(await dpkgStatus(alpha), 'installed 2.0');
    assert.equal(await readFile(conffile, 'utf8'), 'setting=changed-by-the-admin\n');
    // Nothing upgradable is one empty page, as the Go agent answered.
    assert.deepEqual(body<AptListBody>(await t.client.call('apt/list', {})), { packages: [], page: 0, pages: 1, total_items: 0 });
  });

  it('upgrades everything when the list is empty', async () => {
    await repo.add({ name: beta, version: '1.1' });
    await repo.publish();
    body<CommandOutputBody>(await t.client.call('apt/update', {}, 60_000));
    assert.deepEqual(body<AptListBody>(await t.client.call('apt/list', {})).packages.map((p) => p.Name), [beta]);
    const { output } = body<CommandOutputBody>(await t.client.call('apt/upgrade', { packages: [] }, 120_000));
    assert.match(output, new RegExp(`Setting up ${beta} \\(1\\.1\\)`));
    assert.equal(await dpkgStatus(beta), 'installed 1.1');
  });

  it('removes packages; one with a conffile left is config-files, as dpkg says', async () => {
    const { output } = body<CommandOutputBody>(await t.client.call('apt/remove', { packages: [alpha, gamma] }, 120_000));
    assert.match(output, new RegExp(`Removing ${alpha}`));
    assert.equal(await dpkgStatus(alpha), 'config-files 2.0');
    const [size, summary] = await dpkgFields(alpha);
    assert.deepEqual(body<AptPackagesBody>(await t.client.call('apt/get', { package: alpha })).packages, [
      { Name: alpha, Status: 'config-files', Architecture: 'all', Version: '2.0', ShortDescription: summary, InstalledSizeKB: Number(size ?? '') },
    ]);
    const listed = body<AptListBody>(await t.client.call('apt/list', { search: prefix })).packages;
    assert.deepEqual(
      listed.map((p) => [p.Name, p.Status]),
      [
        [alpha, 'config-files'],
        [beta, 'installed'],
        [gamma, 'not-installed'],
        [slow, 'installed'],
      ],
    );
  });

  it('answers a failing apt-get with ERROR: and its output; the agent keeps serving', async () => {
    const reply = await t.client.call('apt/install', { packages: [`${prefix}-missing`] }, 60_000);
    assert.equal(reply.ok, false);
    assert.match(reply.ok ? '' : reply.message, /apt-get install exited with 100/);
    assert.match(reply.ok ? '' : reply.message, /Unable to locate package/);
    assert.equal((await t.client.call('status', {})).ok, true);
    assert.ok(await mountIsReadOnly(mount.path));
  });

  it('answers at most the last 64 KiB of a long output, saying how much was left out; every line still streams', async () => {
    const from = progress.length;
    const { output } = body<CommandOutputBody>(await t.client.call('apt/install', { packages: [chatty] }, 120_000));
    const [first, ...rest] = output.split('\n');
    const leftOut = /^\[(\d+) bytes of earlier output left out\]$/.exec(first ?? '');
    assert.ok(leftOut, `first line: ${first}`);
    const kept = rest.join('\n');
    assert.ok(Buffer.byteLength(kept) <= 64 * 1024, `${Buffer.byteLength(kept)} bytes kept`);
    assert.match(kept, /\n15000\n/);
    assert.doesNotMatch(kept, /\n1\n/);
    await waitFor(() => progress.slice(from).some((p) => p.line === '15000'), 'the last postinst line on B/apt/progress');
    const streamed = progress.slice(from).filter((p) => p.command === 'apt/install');
    assert.ok(streamed.some((p) => p.line === '1'), 'the first postinst line was streamed');
    assert.ok(streamed.some((p) => p.line.includes(`Setting up ${chatty}`)));
    // What was left out of the answer is what was streamed before the part kept.
    const streamedBytes = streamed.reduce((sum, p) => sum + Buffer.byteLength(p.line) + 1, 0);
    assert.equal(Number(leftOut[1]) + Buffer.byteLength(kept), streamedBytes);
    assert.equal(await dpkgStatus(chatty), 'installed 1.0');
  });

  it('stops an apt-get that hangs in a maintainer script, with its children; the next run finishes dpkg\'s work first', async () => {
    const aptGet = new AptGet({ timeoutMs: 8000, killGraceMs: 1000 });
    const lines: string[] = [];
    const secondLines: string[] = [];
    const first = aptGet.run({ action: 'install', packages: [hung], onLine: (line) => lines.push(line) });
    const second = aptGet.run({ action: 'install', packages: [hung], onLine: (line) => secondLines.push(line) });
    const error = await first.then(
      () => assert.fail('the hung run resolved'),
      (err: unknown) => err,
    );
    assert.ok(error instanceof TimedOutError, String(error));
    assert.match(error.message, /^apt-get install did not finish within 8 s and was stopped \(the next apt command runs dpkg --configure -a first\):\n/);
    assert.ok(lines.some((line) => line.includes(`Setting up ${hung}`)), 'it was stopped in the postinst');
    assert.deepEqual(await processesWith(`sleep\0${hungSleep}`), [], 'the postinst\'s sleep was stopped too');
    // The run queued behind it met dpkg's report of the interruption, ran dpkg --configure -a
    // (the postinst no longer hangs) and then apt-get again.
    await second;
    assert.ok(secondLines.some((line) => line.includes("dpkg was interrupted, you must manually run 'dpkg --configure -a'")), 'apt-get refused first');
    assert.ok(secondLines.includes('arduino-connector: dpkg was interrupted; running dpkg --configure -a first'));
    assert.ok(secondLines.some((line) => line.includes(`Setting up ${hung}`)), 'dpkg --configure -a configured it');
    assert.equal(await dpkgStatus(hung), 'installed 1.0');
  });

  // Last: the package it leaves half-configured would make later apt-get runs fail too.
  it('a failing run with a long output answers ERROR: with its last 2 KiB; log lines stay short', async () => {
    const logsFrom = t.logs.length;
    const reply = await t.client.call('apt/install', { packages: [failing] }, 120_000);
    assert.equal(reply.ok, false);
    const message = reply.ok ? '' : reply.message;
    assert.match(message, /^apt-get install exited with 100:\n\[\d+ bytes of earlier output left out\]\n/);
    assert.ok(Buffer.byteLength(message) < 2048 + 200, `${Buffer.byteLength(message)} bytes`);
    assert.match(message, /E: Sub-process \/usr\/bin\/dpkg returned an error code \(1\)/);
    const logged = t.logs.slice(logsFrom);
    assert.ok(logged.some((line) => line.includes('apt-get install exited with 100')));
    for (const line of logged) assert.ok(line.length < 2048 + 400, `a log line of ${line.length} characters`);
    assert.equal((await t.client.call('status', {})).ok, true);
  });
});

describe('apt commands when apt itself is broken', () => {
  it('answer ERROR: with apt\'s own complaint while the rest of the agent works', async () => {
    const dir = await tempDir('ac-apt-broken-');
    const broker = await startMosquitto();
    let t: TestAgent | undefined;
    try {
      const config = join(dir.path, 'apt.conf');
      await writeFile(config, 'Dir::Etc::sourcelist "unterminated\n');
      const env = { ...process.env, APT_CONFIG: config };
      t = await startTestAgent(broker.url, {}, { featureOptions: { apt: { env } } });
      for (const [command, request] of [
        ['apt/list', { search: 'lib' }],
        ['apt/list', {}],
        ['apt/get', { package: 'dpkg' }],
      ] as const) {
        const reply = await t.client.callRaw(command, JSON.stringify(request), 30_000);
        assert.equal(reply.ok, false, command);
        assert.match(reply.ok ? '' : reply.message, /cannot read the package database: .*Syntax error/s);
      }
      const install = await t.client.call('apt/install', { packages: ['dpkg'] }, 30_000);
      assert.match(install.ok ? '' : install.message, /apt-get install exited with 100:.*Syntax error/s);
      assert.equal((await t.client.call('status', {})).ok, true);
    } finally {
      await t?.stop();
      await broker.close();
      await dir.remove();
    }
  });
});
