// Debian's nats-server as a supervised child of the agent: the local bus sketches publish on.
//
// - Only local clients reach it: it listens on 127.0.0.1 only, with no monitoring port, and
//   without a cluster there is nothing to advertise. Its settings beyond address and port (the
//   payload limit) come as a configuration on its stdin (`-c /dev/stdin`): a file in /dev/shm
//   (or the temporary folder) removed before the server starts, open only as its stdin. (A pipe
//   would do, but node's stdio "pipes" are sockets, which /dev/stdin cannot open.) Where no such
//   file can be made, the server runs with its own payload limit (1 MB) and the agent's cap on
//   what it forwards still holds.
// - It dies with the agent: started through `setpriv --pdeathsig KILL` (util-linux), the kernel
//   kills it when the agent ends, even by kill -9. Without setpriv, or if a kill raced its start,
//   the next agent ends it (nats-leftovers.ts) before starting its own.
// - Restarted with back-off when it dies (doubling, capped). A missing program is said once and
//   looked for again quietly, so installing the package later brings the bus up. A port held by
//   another program is said once per episode and retried the same way.

import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LineSplitter } from '../lib/run-command.js';
import { errorMessage, type Logger } from '../log.js';
import { findExecutable, isExecutableFile } from './executables.js';
import { killLeftovers, ownServerName } from './nats-leftovers.js';

export interface NatsServerOptions {
  /** The program; empty: `nats-server` on PATH, else /usr/sbin/nats-server (Debian's). */
  path: string;
  port: number;
  /** The largest message a client may publish, in bytes (the server's max_payload). */
  maxPayload: number;
  /** First wait before a restart (default 1 s); it doubles up to maxRestartDelayMs (default 60 s),
   * and starts over once a server has run for a minute. */
  restartDelayMs?: number;
  maxRestartDelayMs?: number;
  /** util-linux's setpriv, for the parent-death signal; empty: run the server without it. */
  setprivPath?: string;
}

/** How the bus stands, as `status` will list it. */
export type NatsServerState = 'stopped' | 'starting' | 'running' | 'missing' | 'port in use' | 'restarting';

const debianPath = '/usr/sbin/nats-server';
const stableRunMs = 60_000;

/** The program to run, or undefined when there is none. */
export async function findNatsServer(configured: string, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  if (configured) return (await isExecutableFile(configured)) ? configured : undefined;
  return findExecutable('nats-server', [debianPath], env);
}

/** A read-only descriptor of `text` in a file that is already removed, or undefined. */
function unlinkedFile(text: string): number | undefined {
  for (const dir of ['/dev/shm', tmpdir()]) {
    const path = join(dir, `arduino-connector-nats-${process.pid}-${randomBytes(6).toString('hex')}.conf`);
    try {
      const writer = openSync(path, 'wx', 0o600);
      try {
        writeSync(writer, text);
      } finally {
        closeSync(writer);
      }
      const reader = openSync(path, 'r');
      unlinkSync(path);
      return reader;
    } catch {
      try {
        unlinkSync(path);
      } catch {
        // Never made.
      }
    }
  }
  return undefined;
}

const levels: Record<string, 'debug' | 'info' | 'warn' | 'error'> = { INF: 'info', WRN: 'warn', ERR: 'error', FTL: 'error', DBG: 'debug', TRC: 'debug' };

/**
 * Supervises one nats-server. Events: 'ready' each time a server accepts clients, 'port in use'
 * when another program holds the port, 'missing' when there is no program to run.
 */
export class NatsServer extends EventEmitter {
  private child: ChildProcess | undefined;
  private running: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private current: NatsServerState = 'stopped';
  private saidMissing = false;
  private saidPortInUse = false;
  private saidNoConfig = false;

  constructor(private readonly options: NatsServerOptions, private readonly log: Logger) {
    super();
  }

  get state(): NatsServerState {
    return this.current;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Begins the supervision; never throws (what goes wrong is logged and retried). */
  start(): void {
    this.current = 'starting';
    this.running ??= this.supervise();
  }

  /** Resolves at the first outcome of a start (ready, port in use, missing), or after `ms`. */
  settled(ms: number): Promise<void> {
    if (this.current !== 'starting') return Promise.resolve();
    const events = ['ready', 'port in use', 'missing'] as const;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        for (const event of events) this.off(event, done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      for (const event of events) this.once(event, done);
    });
  }

  async stop(): Promise<void> {
    this.abort.abort();
    const child = this.child;
    child?.kill('SIGTERM');
    const kill = setTimeout(() => child?.kill('SIGKILL'), 5000);
    await this.running;
    clearTimeout(kill);
    this.current = 'stopped';
  }

  private async supervise(): Promise<void> {
    const first = this.options.restartDelayMs ?? 1000;
    const max = this.options.maxRestartDelayMs ?? 60_000;
    let delay = first;
    while (!this.abort.signal.aborted) {
      const began = Date.now();
      let outcome: string;
      try {
        outcome = await this.runOnce();
      } catch (err) {
        outcome = `could not be started: ${errorMessage(err)}`;
        this.log.error(`nats-server ${outcome}`);
      }
      if (this.abort.signal.aborted) break;
      if (Date.now() - began >= stableRunMs) delay = first;
      // A missing program and a taken port were said once already.
      if (outcome !== 'missing' && outcome !== 'port in use') {
        this.current = 'restarting';
        this.log.warn(`nats-server ${outcome}; starting it again in ${(delay / 1000).toFixed(1)} s`);
      }
      await sleep(delay, this.abort.signal);
      delay = Math.min(delay * 2, max);
    }
  }

  /** Runs one server to its end; says how it ended. */
  private async runOnce(): Promise<string> {
    const program = await findNatsServer(this.options.path);
    if (!program) {
      if (!this.saidMissing) {
        const where = this.options.path || `nats-server on PATH nor ${debianPath}`;
        this.log.error(`local bus off: no ${where} (install Debian's nats-server package); B/shadow/update stays quiet until it is there`);
      }
      this.saidMissing = true;
      this.current = 'missing';
      this.emit('missing');
      return 'missing';
    }
    if (this.saidMissing) this.log.info(`${program} is there now: starting the local bus`);
    this.saidMissing = false;
    for (const pid of await killLeftovers()) this.log.warn(`ended nats-server ${pid}, left by an agent that is gone`);

    const { port, maxPayload } = this.options;
    const args = ['-a', '127.0.0.1', '-p', String(port), '--server_name', await ownServerName(), '-T=false'];
    const setpriv = this.options.setprivPath ?? '/usr/bin/setpriv';
    const useSetpriv = setpriv !== '' && (await isExecutableFile(setpriv));
    if (this.abort.signal.aborted) return 'stopped';
    // max_payload caps what a sketch can publish: the server refuses a larger message to its sender.
    const config = unlinkedFile(`max_payload: ${maxPayload}\n`);
    if (config !== undefined) args.push('-c', '/dev/stdin');
    else if (!this.saidNoConfig) this.log.warn(`no file for the server's configuration in /dev/shm nor ${tmpdir()}: it runs with its own payload limit`);
    this.saidNoConfig = config === undefined;
    const stdio: StdioOptions = [config ?? 'ignore', 'pipe', 'pipe'];
    let child: ChildProcess;
    try {
      child = useSetpriv ? spawn(setpriv, ['--pdeathsig', 'KILL', '--', program, ...args], { stdio }) : spawn(program, args, { stdio });
    } finally {
      if (config !== undefined) closeSync(config);
    }
    this.child = child;
    let portInUse = false;
    const onLine = (line: string) => {
      // "[pid] [INF] text" (-T=false leaves the timestamp out; the agent's log has its own).
      const match = /^\[\d+\] (?:\S+ \S+ )?\[([A-Z]{3})\] (.*)$/.exec(line);
      // While the port stays taken, every try prints the same banner and error: said once.
      const level = this.saidPortInUse ? 'debug' : ((match && levels[match[1]!]) ?? 'info');
      const text = match ? match[2]! : line;
      if (/address already in use/.test(text)) portInUse = true;
      this.log[level](text);
      if (text === 'Server is ready') {
        this.current = 'running';
        if (this.saidPortInUse) this.log.info(`127.0.0.1:${port} is free again: the agent's own nats-server runs`);
        this.saidPortInUse = false;
        this.emit('ready');
      }
    };
    const splitters = [new LineSplitter(onLine), new LineSplitter(onLine)] as const;
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => splitters[0].push(chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => splitters[1].push(chunk));
    const ended = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
      child.once('error', (error) => resolve({ code: null, signal: null, error }));
      // 'close' comes after the last of its output, so the port-in-use line is seen before this.
      child.once('close', (code, signal) => resolve({ code, signal }));
    });
    for (const splitter of splitters) splitter.end();
    this.child = undefined;
    if (ended.error) throw ended.error;
    if (portInUse) {
      if (!this.saidPortInUse) {
        this.log.warn(
          `127.0.0.1:${port} is in use by another program (Debian's nats-server.service? "systemctl disable --now nats-server", or set nats_port); ` +
            'if it is a NATS server, sketches reach it and the agent forwards from it; the agent tries to start its own again, with back-off',
        );
      }
      this.saidPortInUse = true;
      this.current = 'port in use';
      this.emit('port in use');
      return 'port in use';
    }
    return ended.signal ? `was ended by ${ended.signal}` : `exited with code ${ended.code}`;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
