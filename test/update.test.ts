// The signed self-update, run the way the service runs it: one real release built by
// `npm run release` (quick compression) is the packaged release; the supervisor of
// test/helpers/supervisor.ts plays the unit's Restart=on-failure around its selector (bin/start);
// a real mosquitto; releases served by a real HTTP server and signed with openssl.
//
// Newer versions are made from that build as a release build with another version would make
// them: the version inlined in the bundle and in package.json patched, every file hashed into a
// new manifest, packed with tar, signed. Broken ones change the bundle before hashing (so the
// manifest is right and only the behaviour is broken), or a file after hashing (manifest mismatch).

import assert from 'node:assert/strict';
import { cp, lstat, mkdir, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildRelease, type Release } from '../scripts/release.js';
import { ConnectorClient } from '../src/client.js';
import { topics, type StatusBody } from '../src/api.js';
import { hashTree, readManifest } from '../src/service/manifest.js';
import { readUpdateState } from '../src/update/releases.js';
import { VERSION } from '../src/version.js';
import { startHttpServer, type TestHttpServer } from './helpers/http-server.js';
import { startMosquitto, type Broker } from './helpers/mosquitto.js';
import { runProcess } from './helpers/process.js';
import { makeKeyPair, signFile, type TestKeyPair } from './helpers/signing.js';
import { supervise, type Supervisor } from './helpers/supervisor.js';
import { tempDir } from './helpers/tmp.js';
import { waitFor } from './helpers/wait.js';

let work: Awaited<ReturnType<typeof tempDir>>;
let release: Release;
/** The unpacked build: the packaged release (/usr/lib/arduino-connector on a device). */
let packaged: string;
let broker: Broker;
let server: TestHttpServer;
let key: TestKeyPair;
let otherKey: TestKeyPair;
const served = () => join(work.path, 'served');
const otherArch = process.arch === 'x64' ? 'arm64' : 'x64';

/** Replaces a file by a new one (the variants share the build's files through hard links). */
async function replaceFile(path: string, content: string | Buffer): Promise<void> {
  const mode = (await lstat(path)).mode & 0o777;
  await rm(path);
  await writeFile(path, content, { mode });
}

interface VariantOptions {
  /** Changes the release before its manifest is made. */
  change?: (dir: string) => Promise<void>;
  arch?: string;
  /** Changes it after: the manifest no longer matches. */
  tamper?: (dir: string) => Promise<void>;
  signWith?: TestKeyPair;
}

/** A release tarball of `version` in the served folder, signed; returns its file name. */
async function variant(version: string, options: VariantOptions = {}): Promise<string> {
  const arch = options.arch ?? process.arch;
  const name = `arduino-connector-${version}-linux-${arch}`;
  const parent = join(work.path, 'variants', version);
  const dir = join(parent, name);
  await mkdir(parent, { recursive: true });
  await runProcess('cp', ['-al', packaged, dir]);
  const bundle = join(dir, 'dist/arduino-connector.js');
  const text = await readFile(bundle, 'utf8');
  const inlined = `name:"arduino-connector",version:"${VERSION}"`;
  assert.ok(text.includes(inlined), 'the bundle inlines its version');
  await replaceFile(bundle, text.replace(inlined, `name:"arduino-connector",version:"${version}"`));
  const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as Record<string, unknown>;
  await replaceFile(join(dir, 'package.json'), `${JSON.stringify({ ...pkg, version }, null, 2)}\n`);
  await options.change?.(dir);
  await rm(join(dir, 'manifest.json'));
  const manifest = { ...(await readManifest(packaged)), version, arch, files: await hashTree(dir) };
  await writeFile(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  await options.tamper?.(dir);
  const file = `${name}.tar.gz`;
  const tar = await runProcess('tar', ['--owner=0', '--group=0', '-I', 'gzip -1', '-cf', join(served(), file), '-C', parent, name]);
  assert.equal(tar.code, 0, tar.stderr);
  await signFile((options.signWith ?? key).privateKeyPath, join(served(), file));
  await rm(parent, { recursive: true, force: true });
  return file;
}

before(async () => {
  work = await tempDir('ac-update-test-');
  release = await buildRelease({ outDir: join(work.path, 'out'), fast: true, log: () => {} });
  await mkdir(join(work.path, 'usr-lib'));
  const untar = await runProcess('tar', ['-xzf', release.tarball, '-C', join(work.path, 'usr-lib')]);
  assert.equal(untar.code, 0, untar.stderr);
  packaged = join(work.path, 'usr-lib', `arduino-connector-${VERSION}-linux-${process.arch}`);
  await mkdir(served());
  key = await makeKeyPair(work.path, { name: 'release' });
  otherKey = await makeKeyPair(work.path, { name: 'other' });
  broker = await startMosquitto();
  server = await startHttpServer({ folder: served() });
});

after(async () => {
  await server?.close();
  await broker?.close();
  await work?.remove();
});

interface Device {
  id: string;
  data: string;
  releases: string;
  env: NodeJS.ProcessEnv;
  service: Supervisor;
  client: ConnectorClient;
  /** Everything published on B/update. */
  updateTopic: string[];
  close(): Promise<void>;
}

let devices = 0;

/** A device: its data folder, the service started through the packaged selector, a client. */
async function startDevice(settings: Record<string, string> = {}): Promise<Device> {
  const id = `update-${++devices}-${process.pid}`;
  const data = join(work.path, id);
  await mkdir(data, { mode: 0o700 });
  await writeFile(join(data, 'agent.cfg'), '');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    CONFIG: join(data, 'agent.cfg'),
    ID: id,
    URL: broker.url,
    CERT_PATH: join(data, 'certs'),
    SKETCHES_PATH: data,
    DROP_FOLDER: join(data, 'drop'),
    DOCKER_HOST: join(data, 'no-docker.sock'),
    APT_CONFIG_DIR: join(data, 'apt'),
    SIGNATURE_KEY: key.publicKeyPath,
    HEARTBEAT_INTERVAL: '0',
    LOG_LEVEL: 'debug',
    ...settings,
  };
  const service = supervise([join(packaged, 'bin/start')], { env, cwd: data, restartDelayMs: 300 });
  const client = await ConnectorClient.connect({ broker: broker.url, deviceId: id });
  const updateTopic: string[] = [];
  await client.follow(topics.answer(client.base, 'update'), (_topic, payload) => void updateTopic.push(payload.toString()));
  const device: Device = {
    id,
    data,
    releases: join(data, 'releases'),
    env,
    service,
    client,
    updateTopic,
    async close() {
      // The service running now (a test may have started it again).
      await device.service.stop();
      await client.close();
    },
  };
  return device;
}

async function statusOf(device: Device): Promise<StatusBody | undefined> {
  const reply = await device.client.call('status', {}, 1500).catch(() => undefined);
  return reply?.ok ? (JSON.parse(reply.body) as StatusBody) : undefined;
}

/** Waits until the device answers status as `version`. */
async function answeringAs(device: Device, version: string, timeoutMs = 60_000): Promise<StatusBody> {
  return waitFor(async () => {
    const status = await statusOf(device);
    return status?.version === version ? status : undefined;
  }, `status answered by ${version}`, timeoutMs, 100);
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(() => true, () => false);
}

/** What the releases folder holds (names, sorted), links with their targets. */
async function releasesFolder(device: Device): Promise<string[]> {
  if (!(await exists(device.releases))) return [];
  const out: string[] = [];
  for (const name of (await readdir(device.releases)).sort()) {
    const path = join(device.releases, name);
    out.push((await lstat(path)).isSymbolicLink() ? `${name} -> ${await readlink(path)}` : name);
  }
  return out;
}

function stderrTail(device: Device): string {
  return device.service.stderr().split('\n').slice(-30).join('\n');
}

describe('update', () => {
  it('switches to a good release, which answers status and commits; the same version changes nothing', async () => {
    const file = await variant('0.2.0');
    const device = await startDevice();
    try {
      const before = await answeringAs(device, VERSION);
      assert.equal(before.update, undefined);
      await cp(release.tarball, join(served(), 'same.tar.gz'));
      await signFile(key.privateKeyPath, join(served(), 'same.tar.gz'));
      assert.deepEqual(await device.client.call('update', { url: server.url('/same.tar.gz') }), { ok: true, body: `${VERSION} is already running` });
      assert.deepEqual(await releasesFolder(device), []);

      // Figures for BENCHMARKS.md, sampled while the update runs (not asserted: they are timings).
      const agentPid = device.service.runs[0]!.pid;
      const rssOf = async () => Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${agentPid}/status`, 'utf8').catch(() => ''))?.[1] ?? 0);
      const rssBefore = await rssOf();
      let rssPeak = rssBefore;
      let diskPeak = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          rssPeak = Math.max(rssPeak, await rssOf());
          const du = await runProcess('du', ['-sk', device.releases]);
          diskPeak = Math.max(diskPeak, Number(du.stdout.split('\t')[0]) || 0);
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      const asked = Date.now();
      const reply = await device.client.call('update', { url: server.url(`/${file}`) }, 120_000);
      sampling = false;
      await sampler;
      assert.deepEqual(reply, { ok: true, body: 'updating to 0.2.0' });
      const after = await answeringAs(device, '0.2.0');
      const tookMs = Date.now() - asked;
      await waitFor(async () => (await readUpdateState(device.releases))?.phase === 'committed', 'the update committed');
      assert.deepEqual((await statusOf(device))?.update, { version: '0.2.0', from: VERSION, outcome: 'committed' });
      assert.equal(after.version, '0.2.0');
      // Updated from the packaged release: no previous (a rollback goes back to the packaged one).
      assert.deepEqual(await releasesFolder(device), ['0.2.0', 'current -> 0.2.0', 'state']);
      assert.deepEqual(device.service.runs.map((r) => r.code ?? 'running'), [75, 'running']);
      const du = await runProcess('du', ['-sm', device.releases]);
      console.log(`update: request to status answered by 0.2.0 in ${tookMs} ms; releases folder after: ${du.stdout.split('\t')[0]} MiB, at most ${Math.round(diskPeak / 1024)} MiB during; agent RSS ${Math.round(rssBefore / 1024)} MiB before, at most ${Math.round(rssPeak / 1024)} MiB during the download and unpack`);
    } finally {
      await device.close();
    }
  });

  it('refuses a bad signature, a wrong key, a truncated download, a manifest mismatch, another architecture, an older version: the running release keeps serving', async () => {
    const good = await variant('0.7.0');
    const wrongKey = await variant('0.7.1', { signWith: otherKey });
    const mismatch = await variant('0.7.2', {
      tamper: async (dir) => replaceFile(join(dir, 'dist/arduino-connector.js'), `${await readFile(join(dir, 'dist/arduino-connector.js'), 'utf8')}\n// changed\n`),
    });
    const foreign = await variant('0.7.3', { arch: otherArch });
    const older = await variant('0.0.9');
    await cp(join(served(), good), join(served(), 'truncated.tar.gz'));
    await cp(join(served(), `${good}.sig`), join(served(), 'truncated.tar.gz.sig'));
    server.behave('/truncated.tar.gz', { kind: 'cut', afterBytes: 1024 * 1024 });
    const device = await startDevice();
    try {
      await answeringAs(device, VERSION);
      const refusals: [string, Record<string, unknown>, RegExp][] = [
        // Another file's signature, given in the request.
        ['bad signature', { url: server.url(`/${good}`), signature: (await readFile(join(served(), `${older}.sig`))).toString('base64') }, /^signature check failed: the file does not match its signature/],
        ['wrong key', { url: server.url(`/${wrongKey}`) }, /^signature check failed/],
        ['truncated', { url: server.url('/truncated.tar.gz') }, /^download failed/],
        ['manifest mismatch', { url: server.url(`/${mismatch}`) }, /^manifest check failed: dist\/arduino-connector\.js does not match its SHA-256/],
        ['other architecture', { url: server.url(`/${foreign}`) }, new RegExp(`^release 0\\.7\\.3 is for ${otherArch}, this device is ${process.arch}`)],
        ['older', { url: server.url(`/${older}`) }, /^release 0\.0\.9 is older than the running 0\.1\.0 \(allow_downgrade/],
        // The selector would start the packaged release instead of a release older than it.
        ['older than the packaged release', { url: server.url(`/${older}`), allow_downgrade: true }, /^release 0\.0\.9 is older than the packaged release 0\.1\.0/],
      ];
      for (const [what, request, expected] of refusals) {
        const reply = await device.client.callRaw('update', JSON.stringify(request), 120_000);
        assert.equal(reply.ok, false, `${what}: ${JSON.stringify(reply)}`);
        assert.match(reply.ok ? '' : reply.message, expected, what);
        // Nothing left behind but the empty folder, and the packaged release still answering.
        assert.deepEqual(await releasesFolder(device), [], what);
        assert.equal((await statusOf(device))?.version, VERSION, what);
      }
      assert.deepEqual(device.service.runs.map((r) => r.code ?? 'running'), ['running']);
    } finally {
      await device.close();
    }
  });

  it('refuses an update that does not fit on the disk, leaving nothing behind', async () => {
    const file = await variant('0.7.5');
    // A releases folder of 80 MiB: the download (47 MiB) fits, the unpacked release (116 MiB) not.
    const small = join(work.path, 'small-disk');
    await mkdir(small);
    await runProcess('mount', ['-t', 'tmpfs', '-o', 'size=80m,mode=0700', 'tmpfs', small]);
    const device = await startDevice({ RELEASES_PATH: small });
    try {
      await answeringAs(device, VERSION);
      const reply = await device.client.call('update', { url: server.url(`/${file}`) }, 120_000);
      assert.equal(reply.ok, false);
      assert.match(reply.ok ? '' : reply.message, /^unpacking the update failed: .*No space left on device/);
      assert.deepEqual(await readdir(small), []);
      assert.equal((await statusOf(device))?.version, VERSION);
      assert.deepEqual(device.service.runs.map((r) => r.code ?? 'running'), ['running']);
    } finally {
      await device.close();
      await runProcess('umount', [small]);
    }
  });

  it('rolls back a release that exits at start to the previous update, after three starts, and says so on B/update', async () => {
    const crashing = await variant('0.3.0', {
      change: (dir) => replaceFile(join(dir, 'dist/arduino-connector.js'), 'process.stderr.write("0.3.0 cannot start\\n");\nprocess.exit(3);\n'),
    });
    const good = await variant('0.2.5');
    const device = await startDevice();
    try {
      await answeringAs(device, VERSION);
      // First a good update, which becomes the previous release of the next one.
      assert.deepEqual(await device.client.call('update', { url: server.url(`/${good}`) }, 120_000), { ok: true, body: 'updating to 0.2.5' });
      await answeringAs(device, '0.2.5');
      await waitFor(async () => (await readUpdateState(device.releases))?.phase === 'committed', 'the update to 0.2.5 committed');
      assert.deepEqual(await device.client.call('update', { url: server.url(`/${crashing}`) }, 120_000), { ok: true, body: 'updating to 0.3.0' });
      const message = 'ERROR: update to 0.3.0 rolled back: exited 3 times before answering status\n';
      await waitFor(() => device.updateTopic.includes(message), `${message.trim()} on B/update (${device.updateTopic.join(' | ')})\n${stderrTail(device)}`, 60_000);
      const status = await answeringAs(device, '0.2.5');
      assert.deepEqual(status.update, { version: '0.3.0', from: '0.2.5', outcome: 'rolled back', reason: 'exited 3 times before answering status' });
      // The packaged agent and 0.2.5 each exit 75 after a switch, three crashes of 0.3.0, 0.2.5 again.
      assert.deepEqual(device.service.runs.map((r) => r.code ?? 'running'), [75, 75, 3, 3, 3, 'running']);
      // Marked once the broker has it.
      await waitFor(async () => (await readUpdateState(device.releases))?.reported, 'the rollback marked reported');
      // The rolled-back release is pruned at the next start: only current and previous stay.
      assert.deepEqual(await releasesFolder(device), ['0.2.5', 'current -> 0.2.5', 'previous -> 0.2.5', 'state']);
      // Reported once: a later start says nothing again.
      assert.equal(device.updateTopic.filter((m) => m === message).length, 1);
    } finally {
      await device.close();
    }
  });

  it('rolls back a release that never connects, at its probation deadline', async () => {
    // The real agent of this build, pointed at a broker that is not there.
    const lost = await variant('0.4.0', {
      change: async (dir) => {
        await cp(join(dir, 'dist/arduino-connector.js'), join(dir, 'dist/agent.js'));
        await replaceFile(join(dir, 'dist/arduino-connector.js'), 'process.env.URL = "mqtt://127.0.0.1:1";\nawait import("./agent.js");\n');
      },
    });
    const device = await startDevice({ UPDATE_PROBATION: '4' });
    try {
      await answeringAs(device, VERSION);
      assert.deepEqual(await device.client.call('update', { url: server.url(`/${lost}`) }, 120_000), { ok: true, body: 'updating to 0.4.0' });
      const message = 'ERROR: update to 0.4.0 rolled back: not connected and answering status within 4 s\n';
      await waitFor(() => device.updateTopic.includes(message), `${message.trim()} on B/update\n${stderrTail(device)}`, 60_000);
      assert.deepEqual((await answeringAs(device, VERSION)).update?.outcome, 'rolled back');
      // The packaged agent (75), 0.4.0 ending itself at its deadline (70), the packaged again.
      assert.deepEqual(device.service.runs.map((r) => r.code ?? 'running'), [75, 70, 'running']);
    } finally {
      await device.close();
    }
  });

  it('starts a working release after a kill -9 during the unpack, and right after the switch', async () => {
    const file = await variant('0.5.0');
    const device = await startDevice();
    try {
      await answeringAs(device, VERSION);
      // During the unpack.
      const during = device.client.call('update', { url: server.url(`/${file}`) }, 20_000).catch(() => undefined);
      await waitFor(async () => (await releasesFolder(device)).some((n) => n.startsWith('.unpack-')), 'the unpack under way', 60_000, 2);
      await device.service.killAll();
      void during;
      let again = supervise([join(packaged, 'bin/start')], { env: device.env, cwd: device.data, restartDelayMs: 300 });
      device.service = again;
      await answeringAs(device, VERSION);
      // What the killed unpack left is gone.
      await waitFor(async () => !(await releasesFolder(device)).some((n) => n.startsWith('.')), 'the leftovers pruned');
      assert.equal(await exists(join(device.releases, 'current')), false);

      // Right after the switch, before the agent's own exit.
      const switching = device.client.call('update', { url: server.url(`/${file}`) }, 20_000).catch(() => undefined);
      await waitFor(() => exists(join(device.releases, 'current')), 'the switch', 60_000, 1);
      await again.killAll();
      void switching;
      again = supervise([join(packaged, 'bin/start')], { env: device.env, cwd: device.data, restartDelayMs: 300 });
      device.service = again;
      await answeringAs(device, '0.5.0');
      await waitFor(async () => (await readUpdateState(device.releases))?.phase === 'committed', 'the update committed');
    } finally {
      await device.close();
    }
  });
});

