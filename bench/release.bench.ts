// The release as a device gets it (issue 11): the sizes of the .deb (xz, as `npm run release`
// makes it), of the tarball and of the installed package; the .deb installed with apt in a clean
// Debian 12 root, then, with the agent started as its unit starts it (ExecStart, same folder and
// environment) against mosquitto on the host's loopback:
// - start to first `status` answer: from spawning ExecStart (what `systemctl start` does once
//   its checks are done) to the first INFO on B/status, asked every 10 ms; BENCH_RELEASE_STARTS
//   starts (default 9), the first of them with the page cache as the install left it;
// - idle RSS of the installed agent on its runtime against a bare node of that same runtime
//   (`setInterval`, no flags, as the core bench's bare node), after BENCH_IDLE_SECONDS (60).

import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { buildRelease } from '../scripts/release.js';
import { systemPaths } from '../src/service/layout.js';
import { NODE_FLAGS } from '../src/service/node-flags.js';
import { runProcess } from '../test/helpers/process.js';
import { spawnInRoot, unpackDebianRoot } from '../test/helpers/debian-root.js';
import { startMosquitto } from '../test/helpers/mosquitto.js';
import { tempDir } from '../test/helpers/tmp.js';
import { unitCommand } from '../test/helpers/unit-file.js';
import type { BenchResult } from './types.js';

const starts = Number(process.env.BENCH_RELEASE_STARTS ?? 9);
const idleSeconds = Number(process.env.BENCH_IDLE_SECONDS ?? 60);
const MiB = 1024 * 1024;

async function rssKb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export default async function releaseBench(): Promise<BenchResult[]> {
  const work = await tempDir('ac-bench-release-');
  const debian = await unpackDebianRoot();
  const broker = await startMosquitto();
  const children: { kill(signal?: NodeJS.Signals): boolean }[] = [];
  try {
    process.stderr.write('bench: release: building the release (xz)...\n');
    const release = await buildRelease({ outDir: work.path, log: () => {} });
    const debBytes = (await readFile(release.deb)).length;
    const tarBytes = (await readFile(release.tarball)).length;
    const installedKiB = Number((await runProcess('dpkg-deb', ['-f', release.deb, 'Installed-Size'])).stdout.trim());

    await writeFile(join(debian.path, 'tmp/agent.deb'), await readFile(release.deb));
    const install = await debian.run(['apt-get', 'install', '-y', '/tmp/agent.deb'], { DEBIAN_FRONTEND: 'noninteractive' });
    if (install.code !== 0) throw new Error(`apt-get install: ${install.stdout}${install.stderr}`);
    const du = await runProcess('du', ['-sk', join(debian.path, systemPaths.programDir)]);
    const programKiB = Number(du.stdout.split('\t')[0]);

    const id = `bench-${process.pid}`;
    await writeFile(join(debian.path, systemPaths.configFile), `id=${id}\nurl=${broker.url}\n`);
    const command = unitCommand(await readFile(join(debian.path, systemPaths.packageUnit), 'utf8'));
    const client = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    const base = `$aws/things/${id}`;
    await client.subscribeAsync(`${base}/status`);

    const startTimes: number[] = [];
    let agent: ReturnType<typeof spawnInRoot> | undefined;
    for (let i = 0; i < starts; i++) {
      const answered = new Promise<void>((resolve) => {
        const onMessage = (topic: string, payload: Buffer) => {
          if (topic !== `${base}/status` || !payload.toString().startsWith('INFO:')) return;
          client.off('message', onMessage);
          resolve();
        };
        client.on('message', onMessage);
      });
      const t0 = performance.now();
      agent = spawnInRoot(debian.path, command);
      children.push(agent);
      let done = false;
      void answered.then(() => (done = true));
      while (!done) {
        await client.publishAsync(`${base}/status/post`, '{}');
        await Promise.race([answered, sleep(10)]);
      }
      startTimes.push(performance.now() - t0);
      if (i < starts - 1) {
        const exited = new Promise((r) => agent?.once('exit', r));
        agent.kill('SIGTERM');
        await exited;
      }
    }
    await client.endAsync();

    const runtime = join(systemPaths.programDir, 'runtime/bin/node');
    const bare = spawnInRoot(debian.path, { argv: [runtime, '-e', 'setInterval(() => {}, 1000)'], cwd: '/', env: command.env });
    children.push(bare);
    // For comparison: the same installed bundle on the node that runs this bench (the checkout's),
    // and a bare node of that one.
    const bundle = join(debian.path, systemPaths.programDir, 'dist/arduino-connector.js');
    const hostData = join(work.path, 'host-agent');
    const hostAgent = spawn(process.execPath, [...NODE_FLAGS, bundle, '-config', '/dev/null', '-id', `${id}-host`, '-url', broker.url, '-sketches_path', hostData, '-drop_folder', join(hostData, 'drop')], { stdio: 'ignore' });
    const hostBare = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    children.push(hostAgent, hostBare);
    process.stderr.write(`bench: release: waiting ${idleSeconds} s for idle memory...\n`);
    await sleep(idleSeconds * 1000);
    const agentRss = await rssKb(agent?.pid as number);
    const bareRss = await rssKb(bare.pid as number);
    const hostAgentRss = await rssKb(hostAgent.pid as number);
    const hostBareRss = await rssKb(hostBare.pid as number);

    return [
      { name: '.deb size (xz)', value: debBytes / MiB, unit: 'MiB' },
      { name: 'tarball size (gzip -9)', value: tarBytes / MiB, unit: 'MiB' },
      { name: 'installed size (Installed-Size)', value: installedKiB / 1024, unit: 'MiB' },
      { name: 'installed /usr/lib/arduino-connector (du)', value: programKiB / 1024, unit: 'MiB' },
      { name: `start to first status answer, median of ${starts}`, value: median(startTimes), unit: 'ms' },
      { name: 'start to first status answer, first start', value: startTimes[0] ?? NaN, unit: 'ms' },
      { name: `start to first status answer, slowest of ${starts}`, value: Math.max(...startTimes), unit: 'ms' },
      { name: `installed agent idle RSS after ${idleSeconds} s (${release.manifest.runtime.node})`, value: agentRss / 1024, unit: 'MiB' },
      { name: 'bare node RSS, same runtime', value: bareRss / 1024, unit: 'MiB' },
      { name: 'idle RSS ratio agent / bare node', value: agentRss / bareRss, unit: 'x', target: '<= 1.6', met: agentRss / bareRss <= 1.6 },
      { name: `same bundle on ${process.version}: idle RSS`, value: hostAgentRss / 1024, unit: 'MiB' },
      { name: `bare node ${process.version} RSS`, value: hostBareRss / 1024, unit: 'MiB' },
      { name: `idle RSS ratio on ${process.version}`, value: hostAgentRss / hostBareRss, unit: 'x' },
    ];
  } finally {
    for (const child of children) child.kill('SIGKILL');
    await broker.close();
    await debian.remove();
    await work.remove();
  }
}
