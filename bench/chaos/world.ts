// Everything a chaos run needs, in throw-away folders: a real mosquitto (with its drop counter), a
// real HTTP server with signed sketches, a throw-away apt world, and the agent as its own process,
// started, killed with SIGKILL and started again on the same data folder.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { startHttpServer, type TestHttpServer } from '../../test/helpers/http-server.js';
import { startMosquitto, type Broker } from '../../test/helpers/mosquitto.js';
import { makeKeyPair, signFile, type TestKeyPair } from '../../test/helpers/signing.js';
import { tempDir } from '../../test/helpers/tmp.js';

/** How the agent is started: the built bin in the bench, the sources (through tsx) in the tests. */
export type AgentCommand = (args: string[]) => { command: string; args: string[]; cwd?: string };

export interface WorldOptions {
  agentCommand: AgentCommand;
  /** More lines of mosquitto.conf (the flood's broker holds it all: see run.ts). */
  brokerConfig: string[];
  /** The broker keeps sessions and queued messages across its stop and start. */
  brokerPersistence?: boolean;
}

/** A sketch that prints a numbered line every 10 ms, for the outage and the kill rounds. */
export const printerSketch = '#!/bin/sh\ni=0\nwhile :; do i=$((i+1)); echo "chaos-line $i"; sleep 0.01; done\n';

/** An apt world of the run's own: the system's package lists and dpkg status copied, no sources
 * (apt/update changes nothing outside it), and dpkg replaced by /bin/false, so no request can
 * install or remove anything even if a package name resolved. */
async function throwAwayApt(root: string): Promise<NodeJS.ProcessEnv> {
  for (const d of ['etc/sources.list.d', 'cache/archives/partial', 'log', 'state', 'dpkg/updates']) await mkdir(join(root, d), { recursive: true });
  await writeFile(join(root, 'etc/sources.list'), '');
  await cp('/var/lib/apt/lists', join(root, 'lists'), { recursive: true, filter: (src) => !src.endsWith('/lock') && !src.includes('/partial') });
  await mkdir(join(root, 'lists/partial'), { recursive: true });
  await cp('/var/lib/dpkg/status', join(root, 'dpkg/status'));
  const conf = join(root, 'apt.conf');
  await writeFile(
    conf,
    [
      `Dir::Etc::sourcelist "${join(root, 'etc/sources.list')}";`,
      `Dir::Etc::sourceparts "${join(root, 'etc/sources.list.d')}";`,
      `Dir::State "${join(root, 'state')}";`,
      `Dir::State::lists "${join(root, 'lists')}";`,
      `Dir::State::status "${join(root, 'dpkg/status')}";`,
      `Dir::Cache "${join(root, 'cache')}";`,
      'Dir::Cache::pkgcache "";',
      'Dir::Cache::srcpkgcache "";',
      `Dir::Log "${join(root, 'log')}";`,
      'Dir::Bin::dpkg "/bin/false";',
      `DPkg::Options { "--admindir=${join(root, 'dpkg')}"; };`,
      '',
    ].join('\n'),
  );
  return { ...process.env, APT_CONFIG: conf };
}

/** Processes whose argv names a file under `folder`. */
async function processesUnder(folder: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'latin1').catch(() => '');
    if (cmdline.split('\0').some((arg) => arg.startsWith(`${folder}/`))) found.push(Number(entry));
  }
  return found;
}

export class ChaosWorld {
  readonly id = `chaos-${process.pid}`;
  readonly base = `$aws/things/${this.id}`;
  agent: ChildProcess | undefined;
  /** What the agent wrote on stderr, across its runs. */
  agentLog = '';

  private constructor(
    private readonly options: WorldOptions,
    readonly dir: { path: string; remove(): Promise<void> },
    readonly broker: Broker,
    readonly http: TestHttpServer,
    readonly keys: TestKeyPair,
    readonly env: NodeJS.ProcessEnv,
    readonly caller: Caller,
  ) {}

  static async create(options: WorldOptions): Promise<ChaosWorld> {
    const dir = await tempDir('ac-chaos-');
    // sys_interval 1: the broker's own count of dropped messages ($SYS) is read after each phase.
    const broker = await startMosquitto({ extraConfig: ['sys_interval 1', ...options.brokerConfig], persistence: options.brokerPersistence });
    const files = join(dir.path, 'www');
    await mkdir(files);
    const http = await startHttpServer({ folder: files });
    const keys = await makeKeyPair(dir.path);
    const env = await throwAwayApt(join(dir.path, 'apt'));
    const data = join(dir.path, 'data');
    await mkdir(join(dir.path, 'apt-config'), { recursive: true });
    await writeFile(
      join(dir.path, 'agent.cfg'),
      [
        `id=chaos-${process.pid}`,
        `url=${broker.url}`,
        'cert_path=',
        `sketches_path=${data}`,
        `drop_folder=${data}/drop`,
        `signature_key=${keys.publicKeyPath}`,
        `apt_config_dir=${join(dir.path, 'apt-config')}`,
        `docker_host=unix://${join(dir.path, 'no-docker.sock')}`,
        'heartbeat_interval=0',
        // The bus has a bench of its own (bench/shadow.bench.ts).
        'nats_port=0',
        'log_level=warn',
        '',
      ].join('\n'),
    );
    return new ChaosWorld(options, dir, broker, http, keys, env, await Caller.connect(broker.url, `$aws/things/chaos-${process.pid}`));
  }

  /** Serves `content` at /<name> with its signature at /<name>.sig. */
  async publishSketch(name: string, content: string | Buffer): Promise<void> {
    const file = join(this.http.folder, name);
    await writeFile(file, content);
    await signFile(this.keys.privateKeyPath, file);
  }

  get dataDir(): string {
    return join(this.dir.path, 'data');
  }

  get pid(): number {
    const pid = this.agent?.pid;
    if (pid === undefined || this.agent?.exitCode !== null) throw new Error('the agent is not running');
    return pid;
  }

  call(command: string, payload: string | Buffer, timeoutMs = 10_000): Promise<string | undefined> {
    return this.caller.call(command, payload, timeoutMs);
  }

  abandonCalls(): void {
    this.caller.abandonCalls();
  }

  /** Starts the agent and waits until it answers `status`. */
  async startAgent(): Promise<void> {
    const agent = this.spawnAgent();
    const deadline = Date.now() + 60_000;
    while ((await this.call('status', '{}', 250)) === undefined) {
      if (agent.exitCode !== null) throw new Error(`the agent exited (${agent.exitCode}) at start: ${this.agentLog.slice(-2000)}`);
      if (Date.now() > deadline) throw new Error(`the agent did not answer status within 60 s: ${this.agentLog.slice(-2000)}`);
    }
  }

  /** Starts the agent without waiting for it (the broker may be away). */
  spawnAgent(): ChildProcess {
    // One agent at a time: a test that failed before it stopped its agent must not leave it
    // running beside the next (two agents of one id take the session from each other, and the
    // forgotten one keeps the test's process alive after its last test).
    const previous = this.agent;
    if (previous && previous.exitCode === null && previous.signalCode === null) previous.kill('SIGKILL');
    const { command, args, cwd } = this.options.agentCommand(['-config', join(this.dir.path, 'agent.cfg')]);
    const agent = spawn(command, args, { cwd, env: this.env, stdio: ['ignore', 'ignore', 'pipe'] });
    this.agent = agent;
    agent.stderr?.on('data', (d: Buffer) => (this.agentLog += d.toString()));
    return agent;
  }

  async killAgent(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const agent = this.agent;
    this.agent = undefined;
    if (!agent || agent.exitCode !== null || agent.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      agent.once('exit', () => resolve());
      agent.kill(signal);
    });
  }

  /** The agent's resident memory, MiB. */
  async rssMiB(): Promise<number> {
    const status = await readFile(`/proc/${this.pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024;
  }

  /** The broker's count of messages it dropped so far ($SYS/broker/publish/messages/dropped). */
  async brokerDrops(): Promise<number> {
    const reader = await mqtt.connectAsync(this.broker.url);
    try {
      const value = new Promise<number>((resolve) => reader.on('message', (_t, p) => resolve(Number(p.toString()))));
      await reader.subscribeAsync('$SYS/broker/publish/messages/dropped');
      return await Promise.race([value, new Promise<number>((resolve) => setTimeout(() => resolve(0), 3000))]);
    } finally {
      await reader.endAsync(true);
    }
  }

  /** Lines of the broker's log saying it dropped messages for a client. */
  brokerDropLines(): number {
    return this.broker.log().split('\n').filter((line) => line.includes('messages are being dropped')).length;
  }

  async close(): Promise<void> {
    await this.killAgent('SIGTERM');
    // Sketches left by a killed agent that no later run ended.
    for (const pid of await processesUnder(this.dataDir)) process.kill(pid, 'SIGKILL');
    await this.caller.close();
    await this.http.close();
    await this.broker.close();
    await this.dir.remove();
  }
}

/** One MQTT 5 client that sends requests with its own response topic and correlation data, so each
 * answer is matched to its request however many are in flight. */
export class Caller {
  private readonly replies = `chaos/replies/${randomUUID()}`;
  private readonly waiting = new Map<string, { answered(answer: string | undefined): void; timer: NodeJS.Timeout }>();
  private sequence = 0;

  private constructor(
    private readonly client: MqttClient,
    private readonly base: string,
  ) {
    client.on('message', (topic, payload, packet) => {
      const correlation = packet.properties?.correlationData?.toString();
      const call = correlation === undefined ? undefined : this.waiting.get(correlation);
      if (topic !== this.replies || !call || correlation === undefined) return;
      this.waiting.delete(correlation);
      clearTimeout(call.timer);
      call.answered(payload.toString());
    });
  }

  static async connect(url: string, base: string): Promise<Caller> {
    const client = await mqtt.connectAsync(url, { protocolVersion: 5, reconnectPeriod: 100 });
    const caller = new Caller(client, base);
    await client.subscribeAsync(caller.replies, { qos: 1 });
    return caller;
  }

  /** Sends `payload` to `command`; the answer, or undefined after `timeoutMs`. */
  call(command: string, payload: string | Buffer, timeoutMs = 10_000): Promise<string | undefined> {
    const correlation = `c${++this.sequence}`;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(correlation);
        resolve(undefined);
      }, timeoutMs);
      this.waiting.set(correlation, { answered: resolve, timer });
      this.client.publish(`${this.base}/${command}/post`, payload, { qos: 0, properties: { responseTopic: this.replies, correlationData: Buffer.from(correlation) } });
    });
  }

  /** Gives up on every call still waiting: each resolves to undefined. */
  abandonCalls(): void {
    for (const [correlation, call] of this.waiting) {
      clearTimeout(call.timer);
      this.waiting.delete(correlation);
      call.answered(undefined);
    }
  }

  async close(): Promise<void> {
    this.abandonCalls();
    await this.client.endAsync(true);
  }
}
