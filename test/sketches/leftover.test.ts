// A sketch that ignores the terminal's hang-up outlives an agent killed with SIGKILL outside
// systemd. The next run of the agent ends that process before it starts the sketch again: never
// two copies of one sketch.

import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { after, before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodeBody, type StatusBody } from '../../src/api.js';
import { ConnectorClient } from '../../src/client.js';
import { processStateLetter } from '../../src/sketches/process.js';
import { startHttpServer, type TestHttpServer } from '../helpers/http-server.js';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { startProcess, type Started } from '../helpers/process.js';
import { makeKeyPair, signFile } from '../helpers/signing.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const main = join(root, 'src/cli/main.ts');

let work: { path: string; remove(): Promise<void> };
let broker: Broker;
let server: TestHttpServer;

const alive = async (pid: number) => !['Z', undefined].includes(await processStateLetter(pid));

/** Whether the process ignores SIGHUP (bit 0 of SigIgn in /proc/<pid>/status). */
async function ignoresHangUp(pid: number): Promise<boolean> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const mask = /^SigIgn:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  return mask !== undefined && (BigInt(`0x${mask}`) & 1n) === 1n;
}

/** Live processes running `file` (a shell script runs as "/bin/sh <file>"). */
async function running(file: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'latin1').catch(() => '');
    if (cmdline.split('\0').includes(file) && (await alive(Number(entry)))) found.push(Number(entry));
  }
  return found;
}

before(async () => {
  work = await tempDir('ac-leftover-');
  broker = await startMosquitto();
  server = await startHttpServer({ folder: work.path });
});

after(async () => {
  await server?.close();
  await broker?.close();
  await work?.remove();
});

it('ends a sketch left running by a killed agent before starting it again', async () => {
  const keys = await makeKeyPair(work.path);
  await writeFile(join(work.path, 'stubborn'), '#!/bin/sh\ntrap "" HUP\nwhile true; do echo tick; sleep 0.2; done\n');
  await signFile(keys.privateKeyPath, join(work.path, 'stubborn'));
  const data = join(work.path, 'data');
  const config = join(work.path, 'agent.cfg');
  const id = `leftover-${process.pid}`;
  await writeFile(config, [`id=${id}`, `url=${broker.url}`, 'cert_path=', `sketches_path=${data}`, `drop_folder=${data}/drop`, `signature_key=${keys.publicKeyPath}`, 'heartbeat_interval=0', ''].join('\n'));
  const startAgent = () => startProcess(process.execPath, ['--import', 'tsx', main, '-config', config], { cwd: root, env: { PATH: process.env.PATH, HOME: process.env.HOME } });
  const client = await ConnectorClient.connect({ broker: broker.url, deviceId: id });
  const sketchFile = join(data, 'sketches', 'stubborn');
  let second: Started | undefined;
  let firstPid = 0;
  try {
    const first = startAgent();
    await waitFor(async () => (await client.call('status', {}, 500)).ok, 'the first agent to answer', 20_000);
    const upload = await client.call('upload', { id: 'stubborn', name: 'stubborn', url: server.url('/stubborn') });
    assert.ok(upload.ok, upload.ok ? '' : upload.message);
    firstPid = Number(/PID (\d+)/.exec(upload.body)?.[1]);
    // Killed before its shell ran `trap`, the sketch would die of the hang-up like any other.
    await waitFor(async () => (await ignoresHangUp(firstPid)) || undefined, 'the sketch to ignore SIGHUP');

    first.child.kill('SIGKILL');
    await first.exit;
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(await alive(firstPid), 'the sketch outlived the agent');

    second = startAgent();
    await waitFor(async () => (await client.call('status', {}, 500)).ok, 'the second agent to answer', 20_000);
    const sketch = await waitFor(async () => {
      const reply = await client.call('status', {});
      const entry = reply.ok ? (decodeBody(reply.body) as StatusBody).sketches.stubborn : undefined;
      return entry?.status === 'RUNNING' ? entry : undefined;
    }, 'the sketch to run again');
    assert.notEqual(sketch.pid, firstPid);
    assert.equal(await alive(firstPid), false, 'the leftover process was ended');
    assert.deepEqual(await running(sketchFile), [sketch.pid], 'one copy of the sketch');
    assert.match(second.stderr(), /pid \d+ is still running from an earlier run of the agent; ending it/);
  } finally {
    second?.child.kill('SIGTERM');
    await second?.exit;
    await client.close();
    if (firstPid && (await alive(firstPid))) process.kill(-firstPid, 'SIGKILL');
  }
});
