// A real RabbitMQ for a test: Debian's 3.10, whose MQTT plugin speaks only 3.1.1 and hangs up on
// an MQTT 5 CONNECT. Its own ports, folder, node name and epmd, all gone after close().

import { spawn, type ChildProcess } from 'node:child_process';
import { chown, readFile, writeFile } from 'node:fs/promises';
import { existsSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { freePort, waitForPort } from './net.js';
import { tempDir } from './tmp.js';

export interface RabbitMq {
  port: number;
  url: string;
  /** MQTT over WebSocket (ws://127.0.0.1:<port>/ws), when started with `webMqtt`. */
  wsUrl?: string;
  /** Everything the node printed so far. */
  log(): string;
  close(): Promise<void>;
}

const server = '/usr/lib/rabbitmq/bin/rabbitmq-server';

/** Ports no other part of this start took a moment ago. */
async function distinctPorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

/** The uid and gid of the rabbitmq user, when we are root: Debian's scripts refuse to run the
 * node as root, so it runs as that user and its folder must be that user's. */
async function rabbitmqUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const line = (await readFile('/etc/passwd', 'utf8')).split('\n').find((l) => l.startsWith('rabbitmq:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined) throw new Error('rabbitmq-server is installed but there is no rabbitmq user');
  return { uid: Number(uid), gid: Number(gid) };
}

function exited(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Starts a node and resolves once its MQTT listener accepts connections (10 to 30 s). */
export async function startRabbitMq(options: { webMqtt?: boolean } = {}): Promise<RabbitMq> {
  if (!existsSync(server)) throw new Error(`${server} is missing: scripts/bootstrap.sh installs rabbitmq-server`);
  const user = await rabbitmqUser();
  const dir = await tempDir('ac-rabbitmq-');
  const [mqttPort, amqpPort, distPort, epmdPort, wsPort] = (await distinctPorts(5)) as [number, number, number, number, number];
  await writeFile(join(dir.path, 'enabled_plugins'), options.webMqtt ? '[rabbitmq_mqtt,rabbitmq_web_mqtt].\n' : '[rabbitmq_mqtt].\n');
  const conf = [
    `mqtt.listeners.tcp.default = 127.0.0.1:${mqttPort}`,
    `listeners.tcp.default = 127.0.0.1:${amqpPort}`,
    'mqtt.allow_anonymous = true',
    'loopback_users = none',
  ];
  if (options.webMqtt) conf.push(`web_mqtt.tcp.port = ${wsPort}`, 'web_mqtt.tcp.ip = 127.0.0.1');
  await writeFile(join(dir.path, 'rabbitmq.conf'), `${conf.join('\n')}\n`);
  if (user) {
    for (const path of [dir.path, join(dir.path, 'enabled_plugins'), join(dir.path, 'rabbitmq.conf')]) await chown(path, user.uid, user.gid);
  }

  // An epmd of our own, on its own port and in the foreground: the node registers with it instead
  // of starting (or sharing) the machine's, and close() ends it by its pid.
  const epmd = spawn('epmd', ['-port', String(epmdPort), '-address', '127.0.0.1'], { stdio: 'ignore', ...user });
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: dir.path,
    ERL_EPMD_PORT: String(epmdPort),
    RABBITMQ_NODENAME: `ac-test-${randomBytes(4).toString('hex')}@localhost`,
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_CONFIG_FILE: join(dir.path, 'rabbitmq'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir.path, 'enabled_plugins'),
    RABBITMQ_MNESIA_BASE: join(dir.path, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir.path, 'log'),
    // Neither /etc/rabbitmq/rabbitmq-env.conf nor advanced.config of the machine.
    RABBITMQ_CONF_ENV_FILE: join(dir.path, 'rabbitmq-env.conf'),
    RABBITMQ_ADVANCED_CONFIG_FILE: join(dir.path, 'advanced.config'),
  };
  let node: ChildProcess | undefined;
  let output = '';
  const killAll = () => {
    for (const pid of [node?.pid === undefined ? undefined : -node.pid, epmd.pid]) {
      try {
        if (pid !== undefined) process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  };
  // A test process that ends without close() must not leave a broker behind.
  const onExit = () => {
    killAll();
    rmSync(dir.path, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  const close = async () => {
    process.off('exit', onExit);
    // SIGTERM lets the start script stop the VM cleanly (about a second); then whatever is left.
    if (node && node.exitCode === null && node.signalCode === null) {
      node.kill('SIGTERM');
      await exited(node, 20_000);
    }
    killAll();
    await exited(epmd, 5_000);
    await dir.remove();
  };

  try {
    // Up before the node looks for it, or the node would start a daemon of its own on that port.
    const epmdFailed = new Promise<never>((_, reject) => {
      epmd.once('error', reject);
      epmd.once('exit', (code) => reject(new Error(`epmd exited (${code})`)));
    });
    await Promise.race([waitForPort(epmdPort), epmdFailed]);
    // Its own process group, killed as one: the start script and the Erlang VM (whose helper
    // processes end with it).
    const started = spawn(server, [], { cwd: dir.path, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'], ...user });
    node = started;
    started.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    started.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    const died = new Promise<never>((_, reject) => started.once('exit', (code) => reject(new Error(`rabbitmq-server exited (${code}):\n${output}`))));
    await Promise.race([waitForPort(mqttPort, 90_000), died]);
    if (options.webMqtt) await Promise.race([waitForPort(wsPort, 30_000), died]);
  } catch (err) {
    await close();
    throw err;
  }
  return { port: mqttPort, url: `mqtt://127.0.0.1:${mqttPort}`, ...(options.webMqtt ? { wsUrl: `ws://127.0.0.1:${wsPort}/ws` } : {}), log: () => output, close };
}
