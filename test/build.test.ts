// The agent as it ships: the esbuild bundle of scripts/build.ts, started through its shebang.
// The rest of the suite runs the TypeScript sources, so this is what shows that bundling kept
// every part working, including the chunks and external packages loaded only on first use.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';
import mqtt from 'mqtt';
import { buildAgent } from '../scripts/build.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { freePort } from './helpers/net.js';
import { runProcess, startProcess, type Started } from './helpers/process.js';
import { tempDir } from './helpers/tmp.js';
import { waitFor } from './helpers/wait.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function run(bin: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  return runProcess(bin, args, { cwd, env: { ...process.env, ...env } });
}

describe('the bundled agent (dist/arduino-connector.js)', () => {
  let outdir: string;
  let bin: string;
  let work: Awaited<ReturnType<typeof tempDir>>;
  let agent: Started | undefined;

  before(async () => {
    // Inside the checkout, so that the external packages resolve from its node_modules.
    outdir = await mkdtemp(join(root, '.build-test-'));
    bin = await buildAgent(outdir);
    work = await tempDir('ac-bundle-');
  });

  after(async () => {
    agent?.child.kill('SIGKILL');
    await rm(outdir, { recursive: true, force: true });
    await work.remove();
  });

  it("builds the malloc-trim addon, which gives the C library's free memory back", async () => {
    // 64 MiB in 64 KiB buffers comes from the C library's heap (below its mmap threshold); freed,
    // it stays in the process until a trim.
    const script = `
      const { loadMallocTrim } = await import(${JSON.stringify(join(root, 'src/lib/malloc-trim.ts'))});
      const trim = loadMallocTrim(${JSON.stringify(join(outdir, 'malloc-trim.node'))});
      const rss = () => Number(/VmRSS:\\s+(\\d+)/.exec(require('node:fs').readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
      let held = Array.from({ length: 1024 }, () => Buffer.allocUnsafeSlow(64 * 1024).fill(1));
      // Kept above them on the heap: free() then cannot give the freed space back by itself
      // (it only ever shrinks the heap's top), so what comes back is the trim's doing.
      globalThis.pin = Buffer.allocUnsafeSlow(64 * 1024).fill(2);
      held = undefined;
      globalThis.gc();
      // V8 frees the buffers' memory on a thread of its own after the collection: wait until it has.
      while (process.memoryUsage().arrayBuffers > 8 * 1024 * 1024) {
        await new Promise((r) => setTimeout(r, 20));
        globalThis.gc();
      }
      const before = rss();
      const released = trim();
      console.log(JSON.stringify({ released, before, after: rss() }));
    `;
    const { code, stdout, stderr } = await run(process.execPath, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', `import { createRequire } from 'node:module'; const require = createRequire(import.meta.url); ${script}`], root);
    assert.equal(code, 0, stderr);
    const { released, before, after } = JSON.parse(stdout) as { released: boolean; before: number; after: number };
    assert.equal(released, true);
    // A quarter of it is the bar: V8 may have handed some of the buffers' pages back already.
    assert.ok(before - after > 16, `RSS went from ${before} to ${after} MiB`);
  });

  it('runs local mode and answers `call` through its lazily loaded parts', async () => {
    const data = join(work.path, 'data');
    const local = startProcess(bin, ['local', '--data', data, '--mqtt-port', '0', '--ws-port', '0', '--console-port', '0'], { cwd: work.path });
    agent = local;
    await waitFor(() => /running in local mode/.test(local.stdout()), 'the local-mode banner', 20_000);

    const status = await run(bin, ['call', 'status', '--data', data, '--timeout', '10'], work.path, { DEBUG: '' });
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /"sketches"/);
    assert.doesNotMatch(status.stderr, /mqttjs/);

    // The bundle's quiet `debug` still prints the namespaces DEBUG enables.
    const traced = await run(bin, ['call', 'status', '--data', data, '--timeout', '10'], work.path, { DEBUG: 'mqttjs:client' });
    assert.equal(traced.code, 0, traced.stderr);
    assert.match(traced.stderr, /mqttjs:client/);
    assert.doesNotMatch(traced.stderr, /mqtt-packet/);

    // stats loads dbus-next on first use; without a system bus it still answers.
    const stats = await run(bin, ['call', 'stats', '--data', data, '--timeout', '10'], work.path);
    assert.equal(stats.code, 0, stats.stderr);
    assert.match(stats.stdout, /"memory"/);

    // containers load dockerode on first use; an engine may or may not run here, but the
    // package must load: the answer is the engine's list or a clear engine error.
    const ps = await run(bin, ['call', 'containers/ps', '--data', data, '--timeout', '30'], work.path);
    assert.doesNotMatch(ps.stdout + ps.stderr, /Cannot find (module|package)|require is not defined|Dynamic require/);
    assert.ok(ps.code === 0 || ps.code === 1, `exit ${ps.code}: ${ps.stderr}`);

    local.child.kill('SIGTERM');
    const { code } = await local.exit;
    const agentOutput = local.stdout() + local.stderr();
    assert.equal(code, 0, agentOutput);
    assert.doesNotMatch(agentOutput, /Cannot find (module|package)|require is not defined|Dynamic require/);
  });

  it('forwards the local bus to B/shadow/update through its lazily loaded NATS client', async () => {
    const broker = await startMosquitto();
    const port = await freePort();
    const data = join(work.path, 'bus');
    const config = join(work.path, 'bus.cfg');
    await writeFile(config, `id=bundle-bus\nurl=${broker.url}\ncert_path=\nsketches_path=${data}\ndrop_folder=${data}/drop\ndocker_host=${data}/no-docker.sock\napt_config_dir=${data}/apt\nheartbeat_interval=0\nnats_port=${port}\n`);
    const watcher = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
    const updates: string[] = [];
    watcher.on('message', (_topic, payload) => updates.push(payload.toString()));
    await watcher.subscribeAsync('$aws/things/bundle-bus/shadow/update', { qos: 1 });
    const bus = startProcess(bin, ['-config', config], { cwd: work.path });
    try {
      await waitFor(() => /forwarding \$arduino\.cloud\.\*/.test(bus.stderr()), 'the bus', 20_000);
      const nc = await connect({ servers: `127.0.0.1:${port}` });
      nc.publish('$arduino.cloud.bundled', '{"ok": true}');
      await nc.flush();
      await nc.close();
      await waitFor(() => updates.length === 1, 'the shadow update');
      assert.deepEqual(updates, ['{"state":{"reported":{"bundled":{"ok": true}}}}']);
    } finally {
      bus.child.kill('SIGTERM');
      await bus.exit;
      await watcher.endAsync();
      await broker.close();
    }
    assert.doesNotMatch(bus.stderr(), /Cannot find (module|package)|require is not defined|Dynamic require|is not a function/);
  });
});
