// The agent as it ships: the esbuild bundle of scripts/build.ts, started through its shebang.
// The rest of the suite runs the TypeScript sources, so this is what shows that bundling kept
// every part working, including the chunks and external packages loaded only on first use.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildAgent } from '../scripts/build.js';
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
      held = undefined;
      globalThis.gc();
      const before = rss();
      const released = trim();
      console.log(JSON.stringify({ released, before, after: rss() }));
    `;
    const { code, stdout, stderr } = await run(process.execPath, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', `import { createRequire } from 'node:module'; const require = createRequire(import.meta.url); ${script}`], root);
    assert.equal(code, 0, stderr);
    const { released, before, after } = JSON.parse(stdout) as { released: boolean; before: number; after: number };
    assert.equal(released, true);
    // Node 24 has given part of it back by itself before the trim: a quarter of it is the bar.
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
});
