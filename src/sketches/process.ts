// One sketch under supervision: a program in its own pseudo-terminal. node-pty makes the child a
// session leader, so its pid is also its process group and every signal here goes to the whole
// group (a shell-script sketch and the programs it started stop together). node-pty's own thread
// waits for the child, so it never lingers as a zombie.

import { closeSync, constants as fsConstants, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { spawn, type IPty } from 'node-pty';
import { YoungGarbageCollector } from '../lib/young-garbage.js';

export interface SketchExit {
  /** The exit status, or null when a signal ended the program. */
  exit_code: number | null;
  /** The name of the signal that ended it (e.g. "SIGTERM"), or null. */
  signal: string | null;
}

export type ProcessState = 'running' | 'paused' | 'exited';

/** STOP gave up: the program is still there after SIGKILL (stuck in the kernel). */
export class SketchStopError extends Error {
  constructor(readonly pid: number, waitedMs: number) {
    super(`process ${pid} is still there ${waitedMs} ms after SIGTERM (SIGKILL did not end it; stuck in uninterruptible sleep?)`);
    this.name = 'SketchStopError';
  }
}

export interface SketchProcessOptions {
  file: string;
  args?: string[];
  cwd: string;
  env: Record<string, string>;
  /** How long STOP waits after SIGTERM before SIGKILL (default 3 s). */
  stopGraceMs?: number;
  /** How long PAUSE lets a sketch that handles SIGTSTP stop itself before SIGSTOP (default 300 ms). */
  pauseGraceMs?: number;
  /** How long STOP still waits after SIGKILL before it gives up on a process that cannot die
   * (uninterruptible sleep, a frozen cgroup) (default 10 s). */
  killWaitMs?: number;
  cols?: number;
  rows?: number;
}

const signalNames = new Map<number, string>(Object.entries(constants.signals).map(([name, num]) => [num, name]));
const sigtstpBit = 1n << BigInt(constants.signals.SIGTSTP - 1);

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The state letter of /proc/<pid>/stat ("R", "S", "T", "Z"...), or undefined once it is gone. */
export async function processStateLetter(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name in parentheses may hold spaces and parentheses: the state follows the last ")".
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

async function catchesSigtstp(pid: number): Promise<boolean> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const caught = /^SigCgt:\s*([0-9a-f]+)$/m.exec(status)?.[1];
    return caught !== undefined && (BigInt(`0x${caught}`) & sigtstpBit) !== 0n;
  } catch {
    return false;
  }
}

export class SketchProcess {
  readonly pid: number;
  /** Settles once the program ended and all its output was delivered. */
  readonly exited: Promise<SketchExit>;
  private current: ProcessState = 'running';
  private readonly pty: IPty;
  private readonly outputListeners: ((chunk: Buffer) => void)[] = [];
  private held = false;
  /** The program is gone: its remaining output is read without holding. */
  private drainOnly = false;
  /** Our own descriptor of the terminal's program side (see the constructor). */
  private terminalSide: number | undefined;
  private lastOutputAt = 0;
  private exitWatch: NodeJS.Timeout | undefined;
  private readonly stopGraceMs: number;
  private readonly pauseGraceMs: number;
  private readonly killWaitMs: number;

  private constructor(options: SketchProcessOptions) {
    this.stopGraceMs = options.stopGraceMs ?? 3000;
    this.pauseGraceMs = options.pauseGraceMs ?? 300;
    this.killWaitMs = options.killWaitMs ?? 10_000;
    this.pty = spawn(options.file, options.args ?? [], {
      name: 'xterm',
      cols: options.cols ?? 80,
      rows: options.rows ?? 24,
      cwd: options.cwd,
      env: options.env,
      // Raw bytes: a sketch's output need not be UTF-8, and a chunk may end inside a character.
      encoding: null,
    });
    this.pid = this.pty.pid;
    // When the last descriptor of the program's side of a terminal closes, Linux (or libuv
    // reading it) may report the end before the last buffered output was read, and that output
    // is lost. Holding a descriptor of that side ourselves until the end was reported keeps every
    // byte readable; node-pty then ends the terminal 200 ms after the program exited.
    const ptsName = (this.pty as unknown as { ptsName?: string }).ptsName;
    if (ptsName) {
      try {
        this.terminalSide = openSync(ptsName, fsConstants.O_RDWR | fsConstants.O_NOCTTY);
      } catch {
        // Without it a program's very last output may be cut; the sketch still runs.
      }
    }
    // Each chunk read, and each message built from it, is a buffer that dies at once: collected
    // young, a chatty sketch does not grow the agent (see young-garbage.ts). Every 512 KiB of
    // output: 48 MB of output grew the agent's peak RSS by 32-36 MiB with a collection every
    // 4 MiB, 23-26 MiB every 1 MiB, and 11-22 MiB every 512 KiB, at the same throughput.
    const garbage = new YoungGarbageCollector(512 * 1024);
    this.pty.onData((data) => {
      this.lastOutputAt = Date.now();
      const chunk = data as unknown as Buffer;
      garbage.add(chunk.length);
      for (const listener of this.outputListeners) listener(chunk);
    });
    this.exited = new Promise<SketchExit>((resolve) => {
      this.pty.onExit(({ exitCode, signal }) => {
        this.current = 'exited';
        this.stopExitWatch();
        this.closeTerminalSide();
        resolve(signal ? { exit_code: null, signal: signalNames.get(signal) ?? `signal ${signal}` } : { exit_code: exitCode, signal: null });
      });
    });
  }

  /** Starts the program; throws when node-pty cannot create the terminal or the process. */
  static start(options: SketchProcessOptions): SketchProcess {
    return new SketchProcess(options);
  }

  get state(): ProcessState {
    return this.current;
  }

  /** Output chunks of the terminal, raw, in order. */
  onOutput(listener: (chunk: Buffer) => void): void {
    this.outputListeners.push(listener);
  }

  /**
   * Stops reading the terminal (back-pressure): the program blocks once the kernel's buffer is
   * full. node-pty gives up on a terminal whose output is not read within 200 ms of the
   * program's end and drops the rest, so while held the process is watched, and once it is gone
   * reading resumes for good (what is left is at most the kernel's small buffer).
   */
  holdOutput(): void {
    if (this.held || this.drainOnly || this.current === 'exited') return;
    if (!this.alive()) {
      this.drainOnly = true;
      return;
    }
    this.held = true;
    this.pty.pause();
    this.exitWatch = setInterval(() => {
      if (this.alive()) return;
      this.drainOnly = true;
      this.releaseOutput();
    }, 25);
  }

  releaseOutput(): void {
    if (!this.held) return;
    this.held = false;
    this.stopExitWatch();
    this.pty.resume();
  }

  private stopExitWatch(): void {
    if (this.exitWatch) clearInterval(this.exitWatch);
    this.exitWatch = undefined;
  }

  private alive(): boolean {
    try {
      process.kill(this.pid, 0);
      return true;
    } catch {
      return false;
    }
  }

  /** Bytes for the program's terminal, as if typed. Returns false once the program ended. */
  write(data: Buffer | string): boolean {
    if (this.current === 'exited') return false;
    this.pty.write(data);
    return true;
  }

  /** Signals the whole process group; false when nothing is left to signal. */
  signalGroup(signal: NodeJS.Signals): boolean {
    try {
      process.kill(-this.pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Suspends the program. SIGTSTP first, as the original did; but the sketch's process group has
   * no parent in its session (it is "orphaned"), so the kernel discards a SIGTSTP whose default
   * action would stop it. Unless the sketch handles SIGTSTP (and so can stop itself), SIGSTOP
   * follows at once; one that handles it but does not stop gets SIGSTOP after a grace period.
   */
  async pause(): Promise<void> {
    if (this.current !== 'running') return;
    const handles = await catchesSigtstp(this.pid);
    this.signalGroup('SIGTSTP');
    if (!handles || !(await this.waitForState((s) => s === 'T' || s === 't', this.pauseGraceMs))) {
      this.signalGroup('SIGSTOP');
      await this.waitForState((s) => s === 'T' || s === 't', 2000);
    }
    if (this.current === 'running') this.current = 'paused';
  }

  /** Continues a paused program. */
  resume(): void {
    if (this.current !== 'paused') return;
    this.signalGroup('SIGCONT');
    this.current = 'running';
  }

  /**
   * SIGTERM to the group, SIGKILL after the grace period; resolves once the program ended. Rejects
   * with SketchStopError when it is still there killWaitMs after SIGKILL: the caller holds the
   * sketch's lock meanwhile, so waiting for ever would block every later command on it.
   */
  async stop(): Promise<SketchExit> {
    if (this.current !== 'exited') {
      const started = Date.now();
      this.signalGroup('SIGTERM');
      // A suspended program only acts on SIGTERM once it runs again.
      this.signalGroup('SIGCONT');
      const killAt = started + this.stopGraceMs;
      const giveUpAt = killAt + this.killWaitMs;
      let killed = false;
      while (!this.hasExited()) {
        if (!this.alive()) {
          await this.endTerminalSoon();
          break;
        }
        const now = Date.now();
        if (!killed && now >= killAt) {
          this.signalGroup('SIGKILL');
          killed = true;
        }
        if (now >= giveUpAt) throw new SketchStopError(this.pid, now - started);
        await sleep(5);
      }
      await this.exited;
      // Members of the group that outlived its leader (ignoring SIGTERM and SIGHUP) go as well.
      // The leader was reaped a moment ago; pids are handed out in sequence, so its number cannot
      // name another group yet.
      this.signalGroup('SIGKILL');
    }
    return this.exited;
  }

  /**
   * The program is gone, so nothing writes to its terminal any more: once what it wrote has been
   * read (no output for a moment), our descriptor of its side is closed and the end is reported
   * at once rather than after node-pty's 200 ms.
   */
  private async endTerminalSoon(): Promise<void> {
    this.drainOnly = true;
    this.releaseOutput();
    while (!this.hasExited() && Date.now() - this.lastOutputAt < 20) await sleep(5);
    this.closeTerminalSide();
  }

  /** A method, not a property test, so the compiler does not treat the state as fixed across awaits. */
  private hasExited(): boolean {
    return this.current === 'exited';
  }

  private closeTerminalSide(): void {
    if (this.terminalSide !== undefined) closeSync(this.terminalSide);
    this.terminalSide = undefined;
  }

  private async waitForState(accept: (letter: string) => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const letter = await processStateLetter(this.pid);
      if (letter === undefined) return false;
      if (accept(letter)) return true;
      if (Date.now() >= deadline) return false;
      await sleep(5);
    }
  }
}
