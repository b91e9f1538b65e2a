// `npm run release` as a device gets it: one release build (quick compression), then
// - the tarball: its manifest against the files, no path of the build machine, the release run
//   on the Node.js it carries (node-pty in a real pseudo-terminal, local mode answering);
// - the unit through `systemd-analyze verify`;
// - `-install` / `-uninstall [-purge]` into throw-away roots;
// - the .deb installed with apt into a clean Debian 12 root (mmdebstrap, cached in .test-tmp/),
//   the installed agent started as its unit starts it, against a real mosquitto, answering
//   `status`; then `apt remove` (config, certificate and sketches stay) and `apt purge` (gone);
// - scripts/install.sh in another clean root, with an existing certificate, twice, and the agent it
//   leaves answering through a mosquitto that requires client certificates.

import assert from 'node:assert/strict';
import { lstat, mkdir, readFile, readlink, realpath, stat, writeFile, appendFile, cp } from 'node:fs/promises';
import { join, resolve, dirname } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildRelease, type Release } from '../scripts/release.js';
import { ConnectorClient } from '../src/client.js';
import { hashTree, listFiles, readManifest } from '../src/service/manifest.js';
import { systemPaths } from '../src/service/layout.js';
import { renderUnit } from '../src/service/unit.js';
import { VERSION } from '../src/version.js';
import { startFakeCloud } from './helpers/arduino-cloud.js';
import { unpackDebianRoot, spawnInRoot, type DebianRoot } from './helpers/debian-root.js';
import { startMosquitto, type Broker } from './helpers/mosquitto.js';
import { makeTestPki } from './helpers/tls.js';
import { runProcess, startProcess } from './helpers/process.js';
import { tempDir } from './helpers/tmp.js';
import { unitCommand } from './helpers/unit-file.js';
import { waitFor } from './helpers/wait.js';

const checkout = resolve(dirname(fileURLToPath(import.meta.url)), '..');

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

const modeOf = async (path: string) => (await stat(path)).mode & 0o777;

let work: Awaited<ReturnType<typeof tempDir>>;
let release: Release;
/** The unpacked tarball's top folder. */
let unpacked: string;
let launcher: string;

before(async () => {
  work = await tempDir('ac-release-test-');
  release = await buildRelease({ outDir: join(work.path, 'out'), fast: true, log: () => {} });
  await mkdir(join(work.path, 'unpacked'));
  const untar = await runProcess('tar', ['-xzf', release.tarball, '-C', join(work.path, 'unpacked')]);
  assert.equal(untar.code, 0, untar.stderr);
  unpacked = join(work.path, 'unpacked', `arduino-connector-${VERSION}-linux-${process.arch}`);
  launcher = join(unpacked, 'bin/arduino-connector');
});

after(async () => {
  await work?.remove();
});

describe('the release tarball', () => {
  it('lists every file in manifest.json with its SHA-256, and holds nothing of the build machine\'s paths', async () => {
    const manifest = await readManifest(unpacked);
    assert.equal(manifest.version, VERSION);
    assert.equal(manifest.arch, process.arch);
    // Every file on disk is listed with its hash, and every listed file is there.
    assert.deepEqual(await hashTree(unpacked), manifest.files);
    const versions = JSON.parse((await runProcess(join(unpacked, 'runtime/bin/node'), ['-p', 'JSON.stringify(process.versions)'])).stdout) as Record<string, string>;
    assert.equal(manifest.runtime.node, versions.node);
    assert.equal(manifest.runtime.abi, versions.modules);
    assert.match(manifest.runtime.node, /^24\./);

    const machinePaths = [...new Set([checkout, await realpath(checkout), dirname(await realpath(join(checkout, 'node_modules'))), 'ac-release-'])];
    const found: string[] = [];
    for (const rel of await listFiles(unpacked)) {
      const content = await readFile(join(unpacked, rel));
      for (const p of machinePaths) if (content.includes(p)) found.push(`${rel}: ${p}`);
    }
    assert.deepEqual(found, []);
  });

  it('runs on the Node.js it carries: --version, node-pty in a real pseudo-terminal, local mode answering', async () => {
    const version = await runProcess(launcher, ['--version']);
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout, `${VERSION}\n`);

    // node-pty is an N-API addon built by npm ci for the node of the checkout; it must load and
    // work on the release's runtime too.
    const pty = await runProcess(join(unpacked, 'runtime/bin/node'), [
      '-e',
      "const t = require('./node_modules/node-pty').spawn('/bin/sh', ['-c', 'tty; echo pty-$((40+2))'], {}); let out = ''; t.onData((d) => (out += d)); t.onExit((e) => { console.log(JSON.stringify({ out, code: e.exitCode, node: process.version })); });",
    ], { cwd: unpacked });
    assert.equal(pty.code, 0, pty.stderr);
    const result = JSON.parse(pty.stdout) as { out: string; code: number; node: string };
    assert.match(result.out, /^\/dev\/pts\/\d+\r?\n/m);
    assert.match(result.out, /pty-42/);
    assert.equal(result.code, 0);
    assert.match(result.node, /^v24\./);

    const data = join(work.path, 'local-data');
    const local = startProcess(launcher, ['local', '--data', data, '--mqtt-port', '0', '--ws-port', '0', '--console-port', '0'], { cwd: work.path });
    try {
      await waitFor(() => /running in local mode/.test(local.stdout()), 'the local-mode banner', 20_000);
      // The web console ships in the release and local mode serves it.
      const consoleUrl = /^console: (http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(local.stdout())?.[1];
      assert.ok(consoleUrl, local.stdout());
      assert.match(await (await fetch(consoleUrl)).text(), /<title>My Devices<\/title>/);
      for (const command of ['status', 'stats']) {
        const answer = await runProcess(launcher, ['call', command, '--data', data, '--timeout', '10'], { cwd: work.path });
        assert.equal(answer.code, 0, answer.stderr);
        assert.match(answer.stdout, command === 'status' ? /"sketches"/ : /"memory"/);
        assert.doesNotMatch(answer.stderr, /Warning/);
      }
    } finally {
      local.child.kill('SIGTERM');
    }
    const { code } = await local.exit;
    assert.equal(code, 0, local.stderr());
    // Node 24 warns once per process about deprecated APIs: the agent uses none.
    assert.doesNotMatch(local.stderr(), /Warning|Cannot find (module|package)/);
  });
});

describe('the service unit', () => {
  it('passes systemd-analyze verify', async () => {
    // The unit names /usr/lib/arduino-connector, which verify wants to find executable: the same
    // text, pointed at the unpacked release.
    const dir = join(work.path, 'unit');
    await mkdir(dir);
    const file = join(dir, 'arduino-connector.service');
    await writeFile(file, renderUnit({ version: VERSION, programDir: unpacked }));
    const verify = await runProcess('systemd-analyze', ['verify', file], { cwd: dir });
    assert.equal(verify.code, 0, verify.stderr);
    assert.doesNotMatch(verify.stderr, /arduino-connector/);
    assert.deepEqual(renderUnit({ version: VERSION, programDir: unpacked }).replaceAll(unpacked, systemPaths.programDir), renderUnit({ version: VERSION }));
  });

  it('sets what the service protocol and the device need', () => {
    const unit = renderUnit({ version: VERSION });
    for (const line of [
      'Type=notify', 'NotifyAccess=main', 'WatchdogSec=30', 'Restart=on-failure', 'After=network-online.target', 'Wants=network-online.target',
      'StateDirectory=arduino-connector', 'ConfigurationDirectory=arduino-connector', 'ConfigurationDirectoryMode=0700', 'WorkingDirectory=/var/lib/arduino-connector',
      'ExecStart=/usr/lib/arduino-connector/bin/start',
      'WantedBy=multi-user.target',
    ]) assert.ok(unit.split('\n').includes(line), `missing ${line}`);
    // Sketches stop with the service: the default control-group kill.
    assert.doesNotMatch(unit, /^KillMode=/m);
  });

  it('refuses a program folder that would need quoting', () => {
    assert.throws(() => renderUnit({ version: VERSION, programDir: '/opt/my agent' }), /not a plain absolute path/);
    assert.throws(() => renderUnit({ version: VERSION, programDir: '/opt/100%' }), /not a plain absolute path/);
  });
});

describe('-install and -uninstall, in a throw-away root', () => {
  const serviceAction = (args: string[], from = launcher) => runProcess(from, args);

  it('installs the release checked file by file, the launcher on PATH, the unit of the .deb, enabled as systemctl enable does', async () => {
    const root = join(work.path, 'install-root');
    const first = await serviceAction(['-install', '--root', root]);
    assert.equal(first.code, 0, first.stderr);
    const programDir = join(root, systemPaths.programDir);
    const manifest = await readManifest(programDir);
    assert.deepEqual(await hashTree(programDir), manifest.files);
    assert.deepEqual(manifest, await readManifest(unpacked));
    assert.equal(await readlink(join(root, systemPaths.binLink)), '/usr/lib/arduino-connector/bin/arduino-connector');
    const installed = await runProcess(join(programDir, 'bin/arduino-connector'), ['--version']);
    assert.equal(installed.stdout, `${VERSION}\n`, installed.stderr);

    // The very unit the Debian package ships.
    const debTree = join(work.path, 'deb-tree');
    const extract = await runProcess('dpkg-deb', ['-x', release.deb, debTree]);
    assert.equal(extract.code, 0, extract.stderr);
    const unit = await readFile(join(root, systemPaths.localUnit), 'utf8');
    assert.equal(unit, await readFile(join(debTree, systemPaths.packageUnit), 'utf8'));
    assert.equal(await readlink(join(root, systemPaths.wantsDir, 'arduino-connector.service')), systemPaths.localUnit);

    assert.equal(await modeOf(join(root, systemPaths.configDir)), 0o700);
    assert.equal(await modeOf(join(root, systemPaths.configFile)), 0o600);
    assert.equal(await modeOf(join(root, systemPaths.dataDir)), 0o700);

    // Again, from the installed program this time: nothing changes, nothing fails.
    const config = join(root, systemPaths.configFile);
    await writeFile(config, 'id=device-1\nurl=mqtt://127.0.0.1:1883\n');
    const again = await serviceAction(['-install', '--root', root], join(programDir, 'bin/arduino-connector'));
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /already this release/);
    assert.deepEqual(await hashTree(programDir), manifest.files);
    assert.equal(await readFile(config, 'utf8'), 'id=device-1\nurl=mqtt://127.0.0.1:1883\n');
    assert.equal(await readFile(join(root, systemPaths.localUnit), 'utf8'), unit);
  });

  it('refuses a release whose files do not match its manifest, and installs nothing', async () => {
    const damaged = join(work.path, 'damaged');
    await cp(unpacked, damaged, { recursive: true });
    await appendFile(join(damaged, 'runtime/LICENSE'), 'changed\n');
    const root = join(work.path, 'damaged-root');
    const result = await serviceAction(['-install', '--root', root], join(damaged, 'bin/arduino-connector'));
    assert.equal(result.code, 2);
    assert.match(result.stderr, /runtime\/LICENSE: its SHA-256 is not the one in manifest\.json/);
    assert.equal(await exists(join(root, systemPaths.programDir)), false);
    assert.equal(await exists(join(root, `${systemPaths.programDir}.new`)), false);
    assert.equal(await exists(join(root, systemPaths.localUnit)), false);
  });

  it('uninstalls the service and the program, keeps config, certificates and sketches; -purge removes them', async () => {
    const root = join(work.path, 'uninstall-root');
    assert.equal((await serviceAction(['-install', '--root', root])).code, 0);
    const certificate = join(root, systemPaths.configDir, 'certificate.pem');
    const sketch = join(root, systemPaths.dataDir, 'sketches/blink');
    await writeFile(certificate, 'certificate\n', { mode: 0o600 });
    await mkdir(dirname(sketch), { mode: 0o700 });
    await writeFile(sketch, 'sketch\n', { mode: 0o700 });

    const removed = await serviceAction(['-uninstall', '--root', root]);
    assert.equal(removed.code, 0, removed.stderr);
    for (const gone of [systemPaths.programDir, systemPaths.binLink, systemPaths.localUnit, join(systemPaths.wantsDir, 'arduino-connector.service')]) {
      assert.equal(await exists(join(root, gone)), false, `${gone} is still there`);
    }
    for (const kept of [certificate, sketch, join(root, systemPaths.configFile)]) assert.equal(await exists(kept), true, `${kept} is gone`);
    assert.match(removed.stdout, /\/etc\/arduino-connector: kept/);

    const purged = await serviceAction(['-uninstall', '-purge', '--root', root]);
    assert.equal(purged.code, 0, purged.stderr);
    assert.equal(await exists(join(root, systemPaths.configDir)), false);
    assert.equal(await exists(join(root, systemPaths.dataDir)), false);
  });

  it('leaves an agent that the Debian package installed to apt', async () => {
    const root = join(work.path, 'packaged-root');
    await mkdir(join(root, dirname(systemPaths.dpkgList)), { recursive: true });
    await writeFile(join(root, systemPaths.dpkgList), '/usr/lib/arduino-connector\n');
    const install = await serviceAction(['-install', '--root', root]);
    assert.equal(install.code, 2);
    assert.match(install.stderr, /installed from its Debian package here: upgrade it with apt/);
    const uninstall = await serviceAction(['-uninstall', '-purge', '--root', root]);
    assert.equal(uninstall.code, 2);
    assert.match(uninstall.stderr, /apt purge arduino-connector/);
    assert.equal(await exists(join(root, systemPaths.programDir)), false);
  });
});

describe('the .deb on a clean Debian 12', () => {
  let debian: DebianRoot;
  let broker: Broker;

  before(async () => {
    [debian, broker] = await Promise.all([unpackDebianRoot(), startMosquitto()]);
  });

  after(async () => {
    await broker?.close();
    await debian?.remove();
  });

  it('installs with apt, runs as its unit runs it and answers status; apt remove keeps config, certificate and sketches; apt purge removes them', async () => {
    const root = debian.path;
    // A clean machine: no node at all.
    assert.notEqual((await debian.run(['sh', '-c', 'command -v node nodejs'])).code, 0);

    await cp(release.deb, join(root, 'tmp/arduino-connector.deb'));
    const apt = { DEBIAN_FRONTEND: 'noninteractive' };
    const install = await debian.run(['apt-get', 'install', '-y', '--no-install-recommends', '/tmp/arduino-connector.deb'], apt);
    assert.equal(install.code, 0, install.stdout + install.stderr);
    assert.equal((await debian.run(['arduino-connector', '--version'])).stdout, `${VERSION}\n`);
    // Enabled the way debhelper enables a unit (deb-systemd-helper).
    assert.equal(await readlink(join(root, systemPaths.wantsDir, 'arduino-connector.service')), systemPaths.packageUnit);
    assert.equal(await modeOf(join(root, systemPaths.configDir)), 0o700);
    assert.equal(await modeOf(join(root, systemPaths.configFile)), 0o600);
    assert.equal(await modeOf(join(root, systemPaths.dataDir)), 0o700);
    const conffiles = await debian.run(['dpkg-query', '-W', '-f=${Conffiles}', 'arduino-connector']);
    assert.equal(conffiles.stdout.trim(), '', 'the package must ship no conffile');

    // Registered (as -register would leave it), with a certificate and a stored sketch.
    const id = `deb-${process.pid}`;
    await writeFile(join(root, systemPaths.configFile), `id=${id}\nurl=${broker.url}\n`);
    const certificate = join(root, systemPaths.configDir, 'certificate.pem');
    await writeFile(certificate, 'certificate\n', { mode: 0o600 });
    const data = join(root, systemPaths.dataDir);
    await mkdir(join(data, 'sketches'), { mode: 0o700 });
    await writeFile(join(data, 'sketches/blink'), '#!/bin/sh\nsleep 1000\n', { mode: 0o700 });
    await writeFile(join(data, 'sketches.json'), JSON.stringify({ version: 1, sketches: [{ id: 'blink', name: 'blink', desired: 'STOPPED' }] }));

    const command = unitCommand(await readFile(join(root, systemPaths.packageUnit), 'utf8'));
    for (const d of command.directories) assert.equal(await modeOf(join(root, d.path)), d.mode, d.path);
    const agent = spawnInRoot(root, command);
    let output = '';
    agent.stdout.on('data', (d: Buffer) => (output += d.toString()));
    agent.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((r) => agent.once('exit', (code) => r(code)));
    const client = await ConnectorClient.connect({ broker: broker.url, deviceId: id });
    try {
      const status = await waitFor(async () => {
        const reply = await client.call('status', {}, 500);
        return reply.ok ? reply.body : undefined;
      }, `the installed agent to answer status (its output: ${output})`, 30_000);
      assert.match(status, /"blink"/);
      assert.match(status, /STOPPED/);
    } finally {
      await client.close();
      agent.kill('SIGTERM');
    }
    // As `systemctl stop` ends it.
    assert.equal(await exited, 0, output);
    assert.doesNotMatch(output, /Warning|Cannot find (module|package)/);

    const remove = await debian.run(['apt-get', 'remove', '-y', 'arduino-connector'], apt);
    assert.equal(remove.code, 0, remove.stdout + remove.stderr);
    for (const gone of [systemPaths.programDir, systemPaths.binLink, systemPaths.packageUnit]) assert.equal(await exists(join(root, gone)), false, `${gone} is still there`);
    for (const kept of [join(root, systemPaths.configFile), certificate, join(data, 'sketches/blink'), join(data, 'sketches.json')]) {
      assert.equal(await exists(kept), true, `${kept} is gone after apt remove`);
    }
    assert.match(await readFile(join(root, systemPaths.configFile), 'utf8'), new RegExp(`^id=${id}$`, 'm'));

    // Installed again, it is the same device: its config untouched, the unit enabled (and no
    // longer masked, as postrm masked it on remove).
    const again = await debian.run(['apt-get', 'install', '-y', '/tmp/arduino-connector.deb'], apt);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(await readFile(join(root, systemPaths.configFile), 'utf8'), new RegExp(`^id=${id}$`, 'm'));
    assert.equal(await readlink(join(root, systemPaths.wantsDir, 'arduino-connector.service')), systemPaths.packageUnit);
    assert.equal(await exists(join(root, systemPaths.localUnit)), false, 'the unit is still masked');

    const purge = await debian.run(['apt-get', 'purge', '-y', 'arduino-connector'], apt);
    assert.equal(purge.code, 0, purge.stdout + purge.stderr);
    assert.equal(await exists(join(root, systemPaths.configDir)), false);
    assert.equal(await exists(join(root, systemPaths.dataDir)), false);
    assert.equal(await exists(join(root, systemPaths.wantsDir, 'arduino-connector.service')), false);
    assert.equal(await exists(join(root, systemPaths.localUnit)), false);
    assert.notEqual((await debian.run(['dpkg-query', '-W', 'arduino-connector'])).stdout.trim().split('\t')[1] ?? '', VERSION);
  });
});

describe('scripts/install.sh on a clean Debian 12', () => {
  let debian: DebianRoot;
  let broker: Broker;
  let pkiDir: Awaited<ReturnType<typeof tempDir>>;
  let pki: Awaited<ReturnType<typeof makeTestPki>>;

  before(async () => {
    pkiDir = await tempDir('ac-install-pki-');
    pki = await makeTestPki(pkiDir.path);
    [debian, broker] = await Promise.all([
      unpackDebianRoot(),
      startMosquitto({ tls: { caFile: pki.caFile, certFile: pki.serverCert, keyFile: pki.serverKey, requireCertificate: true } }),
    ]);
  });

  after(async () => {
    await broker?.close();
    await debian?.remove();
    await pkiDir?.remove();
  });

  it('installs the package with an existing certificate, changes nothing the second time, and leaves an agent that answers', async () => {
    const root = debian.path;
    await cp(join(checkout, 'scripts/install.sh'), join(root, 'tmp/install.sh'));
    await cp(release.deb, join(root, 'tmp/agent.deb'));
    for (const [from, to] of [[pki.clientCert, 'device.pem'], [pki.clientKey, 'device.key'], [pki.caFile, 'ca.pem']] as const) await cp(from, join(root, 'tmp', to));
    const id = `script-${process.pid}`;
    const args = ['bash', '/tmp/install.sh', '--deb', '/tmp/agent.deb', '--id', id, '--url', broker.url, '--certificate', '/tmp/device.pem', '--key', '/tmp/device.key', '--ca', '/tmp/ca.pem'];

    const first = await debian.run(args);
    assert.equal(first.code, 0, first.stdout + first.stderr);
    assert.match(first.stdout, /installing arduino-connector/);
    assert.match(first.stdout, new RegExp(`device id: +${id}`));
    assert.match(first.stdout, /systemd does not run here/);
    const identity = ['certificate.pem', 'certificate.key', 'ca.pem', 'arduino-connector.cfg'].map((f) => join(root, systemPaths.configDir, f));
    for (const file of identity) assert.equal(await modeOf(file), 0o600, file);
    assert.equal(await readFile(identity[0] as string, 'utf8'), await readFile(pki.clientCert, 'utf8'));
    const config = await readFile(join(root, systemPaths.configFile), 'utf8');
    assert.match(config, new RegExp(`^id=${id}$`, 'm'));
    const before = await Promise.all(identity.map(async (f) => (await stat(f)).mtimeMs));

    const second = await debian.run(args);
    assert.equal(second.code, 0, second.stdout + second.stderr);
    assert.match(second.stdout, /already installed/);
    assert.match(second.stdout, /identity unchanged/);
    assert.deepEqual(await Promise.all(identity.map(async (f) => (await stat(f)).mtimeMs)), before);
    assert.equal(await readFile(join(root, systemPaths.configFile), 'utf8'), config);

    // The service as systemd would start it at boot, through the broker that wants the certificate.
    const agent = spawnInRoot(root, unitCommand(await readFile(join(root, systemPaths.packageUnit), 'utf8')));
    let output = '';
    agent.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((r) => agent.once('exit', (code) => r(code)));
    const client = await ConnectorClient.connect({ broker: broker.url, deviceId: id, certPath: join(root, systemPaths.configDir) });
    try {
      const status = await waitFor(async () => {
        const reply = await client.call('status', {}, 500);
        return reply.ok ? reply.body : undefined;
      }, `the agent to answer status (its output: ${output})`, 30_000);
      assert.match(status, /"sketches"/);
    } finally {
      await client.close();
      agent.kill('SIGTERM');
    }
    assert.equal(await exited, 0, output);
  });

  it('registers the device with the cloud when it has no certificate, and only once', async () => {
    const cloud = await startFakeCloud({ caFile: pki.caFile, caKey: join(pki.dir, 'ca.key') }, { polls: ['ok'], interval: 0.05, expiresIn: 60, brokerUrl: broker.url });
    const fresh = await unpackDebianRoot();
    try {
      const root = fresh.path;
      await cp(join(checkout, 'scripts/install.sh'), join(root, 'tmp/install.sh'));
      await cp(release.deb, join(root, 'tmp/agent.deb'));
      await cp(pki.caFile, join(root, 'tmp/ca.pem'));
      const id = `registered-${process.pid}`;
      const args = ['bash', '/tmp/install.sh', '--deb', '/tmp/agent.deb', '--ca', '/tmp/ca.pem', '--', '-id', id, '-authurl', cloud.origin, '-apiurl', cloud.origin, '-token', cloud.accessToken];
      const first = await fresh.run(args);
      assert.equal(first.code, 0, first.stdout + first.stderr);
      assert.match(first.stdout, /registering the device/);
      assert.match(first.stdout, new RegExp(`device id: +${id}`));
      assert.equal(cloud.csrs.length, 1);
      const config = await readFile(join(root, systemPaths.configFile), 'utf8');
      assert.match(config, new RegExp(`^id=${id}$`, 'm'));
      assert.match(config, new RegExp(`^url=${broker.url.replace(/[.]/g, '[.]')}$`, 'm'));
      // The key and the config are secrets; the certificate is public (the folder is 0700).
      for (const file of ['certificate.key', 'arduino-connector.cfg']) assert.equal(await modeOf(join(root, systemPaths.configDir, file)), 0o600, file);
      assert.equal(await modeOf(join(root, systemPaths.configDir)), 0o700);

      const second = await fresh.run(args);
      assert.equal(second.code, 0, second.stdout + second.stderr);
      assert.match(second.stdout, /already registered/);
      assert.equal(cloud.csrs.length, 1, 'the second run asked the cloud for nothing');
      assert.equal(await readFile(join(root, systemPaths.configFile), 'utf8'), config);
    } finally {
      await fresh.remove();
      await cloud.close();
    }
  });
});
