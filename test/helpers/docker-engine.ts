// A real Docker engine for a test, in its own temporary folders (Debian's docker.io: dockerd with
// no iptables and no bridge, so containers need NetworkMode "none"), a tiny image made from
// busybox-static with `docker import`, and a private registry (Debian's docker-registry) with
// htpasswd authentication holding that image. If something cannot start, it throws with the
// service's own log: a test that needs the engine fails, it is never skipped.

import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { copyFile, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, waitForPort } from './net.js';
import { tempDir } from './tmp.js';
import { sleep } from './wait.js';

const run = promisify(execFile);

export interface TestRegistry {
  /** host:port, as image references and the engine's /auth name it. */
  address: string;
  user: string;
  password: string;
}

export interface TestDockerEngine {
  socketPath: string;
  /** The tiny image, local only (never pushed under this name). */
  localImage: string;
  /** The same image as pushed to the registry (also present locally until pruned). */
  registryImage: string;
  registry: TestRegistry;
  /** Runs the docker CLI against this engine (with its own client config folder). */
  docker(args: string[], input?: string): Promise<string>;
  /**
   * Pushes a new one-layer image to the registry, removes it locally and deletes its layer from
   * the registry's storage: its manifest is there, so a pull starts (HTTP 200) and then fails
   * inside the progress stream. Returns its reference.
   */
  pushImageWithMissingLayer(repository: string): Promise<string>;
  /** Everything dockerd logged so far. */
  engineLog(): Promise<string>;
  close(): Promise<void>;
}

/** A busybox command for the tiny image that exits at once on SIGTERM (PID 1 ignores it otherwise). */
export const SLEEPER_CMD = ['/bin/sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done'];

function bcrypt(password: string): Promise<string> {
  // glibc's crypt with the Blowfish method, through Debian's python (the PATH one may be a pyenv build).
  const script = 'import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))';
  return run('/usr/bin/python3', ['-W', 'ignore', '-c', script, password]).then((r) => r.stdout.trim());
}

function ping(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', method: 'GET', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

function stopProcess(child: ChildProcess | undefined, graceMs: number): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Mount points under `root` (dockerd leaves overlay and shm mounts there), deepest first. */
async function mountsUnder(root: string): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const points = text
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => !!p && (p === root || p.startsWith(`${root}/`)));
  return points.sort((a, b) => b.length - a.length);
}

export async function startDockerEngine(): Promise<TestDockerEngine> {
  const dir = await tempDir('ac-docker-');
  const root = dir.path;
  const socketPath = join(root, 'docker.sock');
  const engineLogFile = join(root, 'dockerd.log');
  const cliConfig = join(root, 'cli');
  let dockerd: ChildProcess | undefined;
  let registryProcess: ChildProcess | undefined;
  let registryLog = '';

  const docker = async (args: string[], input?: string): Promise<string> => {
    const env = { ...process.env, DOCKER_CONFIG: cliConfig, DOCKER_HOST: `unix://${socketPath}` };
    return new Promise((resolve, reject) => {
      const child = execFile('docker', args, { env, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`docker ${args.join(' ')} failed: ${stderr || err.message}`));
        else resolve(stdout);
      });
      child.stdin?.end(input ?? '');
    });
  };
  const engineLog = () => readFile(engineLogFile, 'utf8').catch(() => '');

  const close = async () => {
    await stopProcess(dockerd, 20_000);
    await stopProcess(registryProcess, 5_000);
    for (const point of await mountsUnder(root)) {
      await run('umount', ['-l', point]).catch(() => {});
    }
    await dir.remove();
  };

  try {
    // The registry first: the engine is told to trust its port.
    const registryPort = await freePort();
    const registry: TestRegistry = { address: `127.0.0.1:${registryPort}`, user: 'tester', password: 'right-password' };
    await writeFile(join(root, 'htpasswd'), `${registry.user}:${await bcrypt(registry.password)}\n`);
    const registryConfig = [
      'version: 0.1',
      'log:',
      '  level: warn',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(root, 'registry')}`,
      'http:',
      `  addr: ${registry.address}`,
      'auth:',
      '  htpasswd:',
      '    realm: test-registry',
      `    path: ${join(root, 'htpasswd')}`,
      '',
    ].join('\n');
    await writeFile(join(root, 'registry.yml'), registryConfig);
    registryProcess = spawn('docker-registry', ['serve', join(root, 'registry.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
    registryProcess.stdout?.on('data', (d: Buffer) => (registryLog += d.toString()));
    registryProcess.stderr?.on('data', (d: Buffer) => (registryLog += d.toString()));
    const registryExited = new Promise<never>((_, reject) => {
      registryProcess?.once('exit', (code) => reject(new Error(`docker-registry exited (${code}): ${registryLog}`)));
      registryProcess?.once('error', (err) => reject(new Error(`docker-registry could not be started (${err.message}); is Debian's docker-registry installed?`)));
    });
    registryExited.catch(() => {});
    await Promise.race([waitForPort(registryPort, 15_000), registryExited]);

    const logFd = openSync(engineLogFile, 'a');
    dockerd = spawn(
      'dockerd',
      [
        '--data-root', join(root, 'data'),
        '--exec-root', join(root, 'exec'),
        '--pidfile', join(root, 'docker.pid'),
        '-H', `unix://${socketPath}`,
        '--iptables=false',
        '--ip6tables=false',
        '--bridge=none',
        '--insecure-registry', registry.address,
      ],
      { stdio: ['ignore', logFd, logFd] },
    );
    closeSync(logFd);
    const engineDied = new Promise<string>((resolve) => {
      dockerd?.once('exit', (code, signal) => resolve(`dockerd exited (${code ?? signal})`));
      dockerd?.once('error', (err) => resolve(`dockerd could not be started (${err.message}); is Debian's docker.io installed?`));
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      const died = await Promise.race([engineDied, sleep(100).then(() => undefined)]);
      if (died) throw new Error(`${died}; its log:\n${await engineLog()}`);
      if (await ping(socketPath)) break;
      if (Date.now() > deadline) throw new Error(`dockerd did not answer within 30 s; its log:\n${await engineLog()}`);
    }

    // The tiny image: busybox-static and three of its applets, imported as a one-layer image.
    const rootfs = join(root, 'rootfs');
    await mkdir(join(rootfs, 'bin'), { recursive: true });
    await copyFile('/bin/busybox', join(rootfs, 'bin', 'busybox'));
    for (const applet of ['sh', 'sleep', 'echo', 'true']) await symlink('busybox', join(rootfs, 'bin', applet));
    const tarFile = join(root, 'rootfs.tar');
    await run('tar', ['-C', rootfs, '-cf', tarFile, '.']);
    const localImage = 'ac-test-tiny:1';
    await docker(['import', '--change', `CMD ${JSON.stringify(SLEEPER_CMD)}`, '--change', 'EXPOSE 8080', tarFile, localImage]);

    const registryImage = `${registry.address}/ac-test-tiny:1`;
    await docker(['tag', localImage, registryImage]);
    await docker(['login', '--username', registry.user, '--password-stdin', registry.address], registry.password);
    await docker(['push', registryImage]);
    await docker(['logout', registry.address]);

    const basicAuth = `Basic ${Buffer.from(`${registry.user}:${registry.password}`).toString('base64')}`;
    const pushImageWithMissingLayer = async (repository: string) => {
      const tree = join(root, `rootfs-${repository}`);
      await mkdir(join(tree, 'bin'), { recursive: true });
      await copyFile('/bin/busybox', join(tree, 'bin', 'busybox'));
      await writeFile(join(tree, 'marker'), `${repository}\n`);
      const tar = join(root, `${repository}.tar`);
      await run('tar', ['-C', tree, '-cf', tar, '.']);
      const reference = `${registry.address}/${repository}:1`;
      await docker(['import', tar, reference]);
      await docker(['login', '--username', registry.user, '--password-stdin', registry.address], registry.password);
      await docker(['push', reference]);
      await docker(['logout', registry.address]);
      await docker(['rmi', reference]);
      const response = await fetch(`http://${registry.address}/v2/${repository}/manifests/1`, {
        headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json', Authorization: basicAuth },
      });
      const manifest = (await response.json()) as { layers: { digest: string }[] };
      const digest = manifest.layers[0]?.digest.replace(/^sha256:/, '');
      if (!digest) throw new Error(`no layer in the manifest of ${reference}`);
      await rm(join(root, 'registry', 'docker', 'registry', 'v2', 'blobs', 'sha256', digest.slice(0, 2), digest, 'data'));
      return reference;
    };

    return { socketPath, localImage, registryImage, registry, docker, pushImageWithMissingLayer, engineLog, close };
  } catch (err) {
    const log = await engineLog();
    await close().catch(() => {});
    if (err instanceof Error && !err.message.includes('its log:')) {
      err.message += `\n--- dockerd log ---\n${log}\n--- registry log ---\n${registryLog}`;
    }
    throw err;
  }
}
