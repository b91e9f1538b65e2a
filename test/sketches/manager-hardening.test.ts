// The sketch manager under concurrency, shutdown, a read-only file system and processes that
// cannot die. The manager runs on its own against a real mosquitto, so a test can queue commands
// on it in a known order; downloads come from a real HTTP server whose files can be held back
// mid-body until the test lets them go; stuck processes are real ones in a frozen cgroup.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rmdir, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { defaultSettings } from '../../src/settings.js';
import { SketchesFeature, type SketchesOptions } from '../../src/commands/sketches.js';
import { DomainError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { MqttConnection } from '../../src/mqtt/connection.js';
import { processStateLetter } from '../../src/sketches/process.js';
import { WritableMount } from '../../src/system/ro-fs.js';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { startStuckFuse } from '../helpers/stuck-fuse.js';
import { makeKeyPair, signFile, type TestKeyPair } from '../helpers/signing.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const run = promisify(execFile);

let work: { path: string; remove(): Promise<void> };
let www: string;
let broker: Broker;
let keys: TestKeyPair;
let server: GatedServer;

// ---- a file server that can hold a file back mid-body -------------------------------------------

interface Gate {
  /** Resolves once the server sent the first bytes of the held file. */
  started: Promise<void>;
  release(): void;
}

interface GatedServer {
  url(name: string): string;
  /** The next requests of `name` send 16 bytes, then wait until released. */
  hold(name: string): Gate;
  close(): Promise<void>;
}

async function startGatedServer(folder: string): Promise<GatedServer> {
  const gates = new Map<string, { started: () => void; released: Promise<void> }>();
  const server: Server = createServer((req, res) => {
    const name = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname.slice(1));
    const file = join(folder, name);
    void (async () => {
      const size = (await stat(file)).size;
      res.writeHead(200, { 'content-length': size });
      const gate = gates.get(name);
      if (gate) {
        const head = Buffer.alloc(16);
        const handle = await open(file);
        await handle.read(head, 0, 16, 0);
        await handle.close();
        res.write(head);
        gate.started();
        await gate.released;
        createReadStream(file, { start: 16 }).pipe(res);
      } else {
        createReadStream(file).pipe(res);
      }
    })().catch(() => {
      if (!res.headersSent) res.writeHead(404).end();
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (name) => `http://127.0.0.1:${port}/${encodeURIComponent(name)}`,
    hold(name) {
      let started!: () => void;
      let release!: () => void;
      const startedPromise = new Promise<void>((r) => (started = r));
      const released = new Promise<void>((r) => (release = r));
      gates.set(name, { started, released });
      return { started: startedPromise, release };
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A signed shell-script sketch on the server, at least 16 bytes long (see hold). */
async function publish(name: string, body: string): Promise<string> {
  const file = join(www, name);
  await writeFile(file, `#!/bin/sh\n# ${name} ${randomBytes(8).toString('hex')}\n${body}\n`);
  await signFile(keys.privateKeyPath, file);
  return server.url(name);
}

// ---- a manager of its own -------------------------------------------------------------------------

interface Solo {
  manager: SketchesFeature;
  dataDir: string;
  sketchesDir: string;
  logs: string[];
  upload(id: string, name: string, url: string): Promise<string>;
  action(id: string, action: 'START' | 'STOP' | 'PAUSE' | 'DELETE'): Promise<string>;
  stop(): Promise<void>;
}

type SoloOptions = Partial<SketchesOptions> & { writable?: WritableMount };

async function startSolo(options: SoloOptions = {}, dataDir?: string): Promise<Solo> {
  const data = dataDir ? undefined : await tempDir('ac-sketch-solo-');
  const path = dataDir ?? data!.path;
  const logs: string[] = [];
  const log = createLogger({ level: 'debug', write: (line) => void logs.push(line) });
  const id = `solo-${randomBytes(4).toString('hex')}`;
  const bus = new MqttConnection({ url: broker.url, clientId: id }, log.child('mqtt'));
  bus.start();
  await waitFor(() => bus.connected, 'the manager connection');
  const base = `/${id}`;
  const { writable = new WritableMount({ enabled: false }), ...sketchOptions } = options;
  const manager = new SketchesFeature(
    { bus, base, log, writable },
    { dataDir: path, dropFolder: join(path, 'drop'), signatureKey: keys.publicKeyPath, maxSketchBytes: 1 << 30, environment: defaultSettings(), stopGraceMs: 300, ...sketchOptions },
  );
  await manager.start();
  let stopped = false;
  return {
    manager,
    dataDir: path,
    sketchesDir: manager.sketchesDir,
    logs,
    upload: (sketchId, name, url) => manager.upload({ id: sketchId, name, url }),
    action: (sketchId, act) => manager.sketch({ id: sketchId, action: act }),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await manager.stop();
      await bus.stop();
      await data?.remove();
    },
  };
}

const pidOf = (answer: string) => Number(/^Sketch started with PID (\d+)$/.exec(answer)?.[1]);
const gone = async (pid: number) => ['Z', undefined].includes(await processStateLetter(pid));

async function rejectsWith(pending: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(pending, (err: Error) => {
    assert.ok(err instanceof DomainError, `expected a DomainError, got ${err.name}: ${err.message}`);
    assert.match(err.message, message);
    return true;
  });
}

/** Processes whose command line names `file` (the sketch scripts run as "/bin/sh <file>"). */
async function processesRunning(file: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'latin1').catch(() => '');
    if (cmdline.split('\0').includes(file) && !(await gone(Number(entry)))) found.push(Number(entry));
  }
  return found;
}

before(async () => {
  work = await tempDir('ac-sketch-hardening-');
  www = join(work.path, 'www');
  await mkdir(www);
  [broker, keys, server] = await Promise.all([startMosquitto(), makeKeyPair(work.path), startGatedServer(www)]);
});
after(async () => {
  await server?.close();
  await broker?.close();
  await work?.remove();
});

describe('uploads racing each other', () => {
  let solo: Solo;
  before(async () => (solo = await startSolo()));
  after(async () => solo.stop());

  it('refuses a second id for a name that another upload is installing, and DELETE of it leaves the first alone', async () => {
    const firstUrl = await publish('shared-a.sh', 'echo first; while :; do sleep 1; done');
    const secondUrl = await publish('shared-b.sh', 'echo second; while :; do sleep 1; done');
    const gate = server.hold('shared-a.sh');
    const first = solo.upload('race-a', 'shared', firstUrl);
    await gate.started;
    await rejectsWith(solo.upload('race-b', 'shared', secondUrl), /sketch name shared is being installed by sketch race-a/);
    gate.release();
    const pid = pidOf(await first);
    assert.deepEqual(await readFile(join(solo.sketchesDir, 'shared'), 'utf8'), await readFile(join(www, 'shared-a.sh'), 'utf8'));
    // The refused id does not exist, so deleting it cannot touch the first one's file.
    await rejectsWith(solo.action('race-b', 'DELETE'), /no sketch with id race-b/);
    assert.equal(solo.manager.status.snapshot()['race-a']?.pid, pid);
    assert.equal((await stat(join(solo.sketchesDir, 'shared'))).isFile(), true);
    // Once the first is installed, the name is taken by a sketch: still refused.
    await rejectsWith(solo.upload('race-b', 'shared', secondUrl), /already used by sketch race-a/);
    await solo.action('race-a', 'DELETE');
  });

  it('frees the name again when the upload holding it failed', async () => {
    const url = await publish('freed.sh', 'while :; do sleep 1; done');
    await rejectsWith(solo.upload('free-a', 'freed', server.url('missing.sh')), /download failed/);
    const pid = pidOf(await solo.upload('free-b', 'freed', url));
    assert.equal(solo.manager.status.snapshot()['free-b']?.pid, pid);
    await solo.action('free-b', 'DELETE');
  });

  it('lets the same id upload twice at once: the one that finishes last wins, one file, one process', async () => {
    const v1 = await publish('twice-1.sh', 'echo v1; while :; do sleep 1; done');
    const v2 = await publish('twice-2.sh', 'echo v2; while :; do sleep 1; done');
    const gate = server.hold('twice-1.sh');
    const first = solo.upload('twice', 'twice-one', v1);
    await gate.started;
    const secondPid = pidOf(await solo.upload('twice', 'twice-two', v2));
    gate.release();
    const firstPid = pidOf(await first);
    await waitFor(() => gone(secondPid), 'the replaced process to end');
    assert.deepEqual(solo.manager.status.snapshot().twice, { name: 'twice-one', id: 'twice', pid: firstPid, status: 'RUNNING', endpoints: null });
    assert.deepEqual((await readdir(solo.sketchesDir)).filter((f) => f.startsWith('twice')), ['twice-one']);
    await solo.action('twice', 'DELETE');
  });
});

describe('a slow download', () => {
  let solo: Solo;
  before(async () => (solo = await startSolo({ downloadDeadlineMs: 1500 })));
  after(async () => solo.stop());

  it('does not hold up STOP, START and DELETE of the sketch it replaces', async () => {
    const oldPid = pidOf(await solo.upload('busy', 'busy.sh', await publish('busy-v1.sh', 'while :; do sleep 1; done')));
    const next = await publish('busy-v2.sh', 'while :; do sleep 1; done');
    const gate = server.hold('busy-v2.sh');
    const replacing = solo.upload('busy', 'busy.sh', next);
    await gate.started;
    await solo.action('busy', 'STOP');
    assert.equal(solo.manager.status.snapshot().busy?.status, 'STOPPED');
    assert.ok(await gone(oldPid));
    await solo.action('busy', 'START');
    await solo.action('busy', 'DELETE');
    assert.equal(solo.manager.status.snapshot().busy, undefined);
    gate.release();
    // The upload still completes, as a new sketch under the same id.
    const newPid = pidOf(await replacing);
    assert.deepEqual(solo.manager.status.snapshot().busy, { name: 'busy.sh', id: 'busy', pid: newPid, status: 'RUNNING', endpoints: null });
    await solo.action('busy', 'DELETE');
  });

  it('gives up at downloadDeadlineMs, long before the idle time-out, leaving nothing behind', async () => {
    const url = await publish('trickle.sh', 'echo never');
    const before = (await readdir(solo.sketchesDir)).sort();
    server.hold('trickle.sh');
    await rejectsWith(solo.upload('trickle', 'trickle.sh', url), /^download failed: not finished within 1500 ms$/);
    assert.deepEqual((await readdir(solo.sketchesDir)).sort(), before);
    assert.equal(solo.manager.status.snapshot().trickle, undefined);
  });
});

describe('shutdown', () => {
  it('waits for queued commands and starts no process behind its back', async () => {
    const solo = await startSolo({ stopGraceMs: 5000 });
    try {
      // The sketch ignores SIGTERM, so its STOP holds the sketch's lock for the grace period: long
      // enough that the STOP is still under way when the agent stops, on a loaded machine too.
      const marker = join(work.path, `term-${randomBytes(4).toString('hex')}`);
      const url = await publish('stubborn.sh', `trap "echo > ${marker}" TERM; while :; do sleep 0.05; done`);
      const pid = pidOf(await solo.upload('stubborn', 'stubborn.sh', url));
      const other = await publish('late.sh', 'while :; do sleep 1; done');
      const gate = server.hold('late.sh');
      const late = rejectsWith(solo.upload('late', 'late.sh', other), /download failed: cancelled/);
      await gate.started;
      const stopping = solo.action('stubborn', 'STOP');
      const restarting = rejectsWith(solo.action('stubborn', 'START'), /shutting down/);
      await waitFor(() => stat(marker).then(() => true, () => false), 'STOP to be under way (SIGTERM received)');
      await solo.stop();
      await stopping;
      await restarting;
      await late;
      await rejectsWith(solo.action('stubborn', 'START'), /shutting down/);
      assert.ok(await gone(pid));
      assert.deepEqual(await processesRunning(join(solo.sketchesDir, 'stubborn.sh')), []);
      assert.deepEqual(await processesRunning(join(solo.sketchesDir, 'late.sh')), []);
    } finally {
      await solo.stop();
    }
  });
});

describe('a process that SIGKILL cannot end (state D)', () => {
  /** STOP gives up with ERROR and keeps the sketch RUNNING; once `release` lets the process die
   * (of the SIGKILL still pending), STOP succeeds: the failed one blocked nothing. */
  async function stopGivesUpThenSucceeds(solo: Solo, pid: number, release: () => Promise<void>): Promise<void> {
    await rejectsWith(solo.action('stuck', 'STOP'), /^sketch stuck could not be stopped: process \d+ is still there/);
    assert.equal(await processStateLetter(pid), 'D');
    assert.ok(solo.logs.some((line) => line.includes('could not') || line.includes('still there')), 'the failure is logged');
    assert.deepEqual(solo.manager.status.snapshot().stuck, { name: 'stuck.sh', id: 'stuck', pid, status: 'RUNNING', endpoints: null });
    await release();
    await solo.action('stuck', 'STOP');
    assert.equal(solo.manager.status.snapshot().stuck?.status, 'STOPPED');
    assert.ok(await gone(pid));
  }

  // Any kernel with /dev/fuse: the process waits in the kernel on a request the file system's server
  // took and never answers (cgroup v2's freezer cannot hold a process against SIGKILL: it dies).
  it('held by a FUSE request that is never answered', async () => {
    const fuse = await startStuckFuse();
    const solo = await startSolo({ stopGraceMs: 100, killWaitMs: 300 });
    try {
      const pid = pidOf(await solo.upload('stuck', 'stuck.sh', await publish('stuck.sh', `exec cat ${fuse.stuckPath}`)));
      await waitFor(async () => fuse.held().includes(pid), 'the sketch to be held by the file system');
      await stopGivesUpThenSucceeds(solo, pid, () => fuse.close());
    } finally {
      await fuse.close();
      await solo.stop();
    }
  });

  const freezer = '/sys/fs/cgroup/freezer';
  it('in a frozen cgroup (v1 freezer)', { skip: !existsSync(freezer) && 'no cgroup v1 freezer here: the FUSE case above holds the same' }, async () => {
    const solo = await startSolo({ stopGraceMs: 100, killWaitMs: 300 });
    const cgroup = `${freezer}/ac-test-${randomBytes(6).toString('hex')}`;
    await mkdir(cgroup);
    try {
      const pid = pidOf(await solo.upload('stuck', 'stuck.sh', await publish('stuck.sh', 'exec sleep 100000')));
      await writeFile(join(cgroup, 'tasks'), String(pid));
      await writeFile(join(cgroup, 'freezer.state'), 'FROZEN');
      await waitFor(async () => (await readFile(join(cgroup, 'freezer.state'), 'utf8')).trim() === 'FROZEN', 'the cgroup to freeze');
      await stopGivesUpThenSucceeds(solo, pid, () => writeFile(join(cgroup, 'freezer.state'), 'THAWED'));
    } finally {
      await writeFile(join(cgroup, 'freezer.state'), 'THAWED').catch(() => {});
      await solo.stop();
      await waitFor(async () => (await readFile(join(cgroup, 'tasks'), 'utf8')).trim() === '', 'the cgroup to empty');
      await rmdir(cgroup);
    }
  });
});

describe('-check_ro_fs', () => {
  it('makes the data folder writable for every write: upload, STOP, DELETE, the drop folder', async () => {
    const dir = await tempDir('ac-sketch-rofs-');
    const mountPoint = join(dir.path, 'data');
    await mkdir(mountPoint);
    await run('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0700', 'tmpfs', mountPoint]);
    const readOnly = async () => (await run('findmnt', ['-n', '-o', 'OPTIONS', '--mountpoint', mountPoint])).stdout.split(',').includes('ro');
    let solo: Solo | undefined;
    try {
      await mkdir(join(mountPoint, 'drop'), { mode: 0o700 });
      await run('mount', ['-o', 'remount,ro', mountPoint]);
      const writable = new WritableMount({ enabled: true, mountPoint });
      solo = await startSolo({ writable, dropSettleMs: 100 }, mountPoint);
      assert.ok(await readOnly(), 'read-only again after start');

      const pid = pidOf(await solo.upload('ro', 'ro.sh', await publish('ro.sh', 'while :; do sleep 1; done')));
      assert.ok(await readOnly(), 'read-only again after the upload');
      assert.equal((await stat(join(solo.sketchesDir, 'ro.sh'))).mode & 0o777, 0o700);
      const desired = async (id: string) => {
        const table = JSON.parse(await readFile(join(mountPoint, 'sketches.json'), 'utf8')) as { sketches: { id: string; desired: string }[] };
        return table.sketches.find((s) => s.id === id)?.desired;
      };
      assert.equal(await desired('ro'), 'RUNNING');

      await solo.action('ro', 'STOP');
      assert.ok(await gone(pid));
      assert.equal(await desired('ro'), 'STOPPED');
      assert.ok(await readOnly());

      await solo.action('ro', 'DELETE');
      assert.deepEqual(await readdir(solo.sketchesDir), []);
      assert.equal(await desired('ro'), undefined);
      assert.ok(await readOnly());

      // The drop folder is on the same file system here, so its file is renamed into place.
      await run('mount', ['-o', 'remount,rw', mountPoint]);
      await writeFile(join(mountPoint, 'drop', 'usb'), '#!/bin/sh\nwhile :; do sleep 1; done\n', { mode: 0o700 });
      await run('mount', ['-o', 'remount,ro', mountPoint]);
      await waitFor(() => solo!.manager.status.snapshot().sketchLoadedThroughUSB?.status === 'RUNNING', 'the dropped sketch to run');
      assert.ok(await readOnly(), 'read-only again after the drop');
      assert.deepEqual(await readdir(join(mountPoint, 'drop')), []);
    } finally {
      await solo?.stop();
      await run('umount', [mountPoint]).catch(() => {});
      await dir.remove();
    }
  });

  it('without it, an upload on a read-only data folder answers ERROR and changes nothing', async () => {
    const dir = await tempDir('ac-sketch-rofs-');
    const mountPoint = join(dir.path, 'data');
    await mkdir(mountPoint);
    await run('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0700', 'tmpfs', mountPoint]);
    let solo: Solo | undefined;
    try {
      solo = await startSolo({}, mountPoint);
      await run('mount', ['-o', 'remount,ro', mountPoint]);
      await rejectsWith(solo.upload('ro2', 'ro2.sh', await publish('ro2.sh', 'echo x')), /saving the download failed/);
      assert.deepEqual(await readdir(solo.sketchesDir), []);
      assert.equal(solo.manager.status.snapshot().ro2, undefined);
    } finally {
      await solo?.stop();
      await run('umount', [mountPoint]).catch(() => {});
      await dir.remove();
    }
  });
});

describe('names with MQTT wildcards', () => {
  it('are not listed as untracked sketches', async () => {
    const dir = await tempDir('ac-sketch-wild-');
    await mkdir(join(dir.path, 'sketches'), { mode: 0o700 });
    for (const name of ['plain', 'a+b', 'c#d']) await writeFile(join(dir.path, 'sketches', name), '#!/bin/sh\n', { mode: 0o700 });
    const solo = await startSolo({}, dir.path);
    try {
      assert.deepEqual(Object.keys(solo.manager.status.snapshot()).sort(), ['plain']);
      assert.ok(solo.logs.some((line) => line.includes('"a+b"')));
    } finally {
      await solo.stop();
      await dir.remove();
    }
  });
});
