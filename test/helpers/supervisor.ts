// The unit's Restart=on-failure, played by the test (systemd is not PID 1 here): runs a command,
// and when it exits with a non-zero code or a signal, runs it again after a short delay. Each run
// is its own process group, so killAll() is a kill -9 of everything the service had (a power cut).

import { spawn, type ChildProcess } from 'node:child_process';

export interface Run {
  pid: number;
  /** Exit code, or null for a signal; undefined while it runs. */
  code?: number | null;
  signal?: NodeJS.Signals | null;
}

export interface Supervisor {
  runs: Run[];
  /** Everything every run printed on stderr. */
  stderr(): string;
  /** kill -9 of the running process group; no restart after it. */
  killAll(): Promise<void>;
  /** SIGTERM, as systemctl stop; no restart after it. */
  stop(): Promise<void>;
}

export function supervise(argv: string[], options: { env: NodeJS.ProcessEnv; cwd?: string; restartDelayMs?: number }): Supervisor {
  const runs: Run[] = [];
  let err = '';
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const start = () => {
    timer = undefined;
    if (stopped) return;
    const [command, ...args] = argv;
    const proc = spawn(command!, args, { env: options.env, cwd: options.cwd, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    child = proc;
    const run: Run = { pid: proc.pid ?? -1 };
    runs.push(run);
    proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    exited = new Promise((resolve) =>
      proc.once('exit', (code, signal) => {
        run.code = code;
        run.signal = signal;
        child = undefined;
        if (!stopped && (code !== 0 || signal !== null)) timer = setTimeout(start, options.restartDelayMs ?? 300);
        resolve();
      }),
    );
  };
  start();

  const end = async (signal: NodeJS.Signals) => {
    stopped = true;
    clearTimeout(timer);
    const proc = child;
    if (proc?.pid) {
      try {
        process.kill(-proc.pid, signal);
      } catch {
        // Already gone.
      }
    }
    await exited;
  };

  return { runs, stderr: () => err, killAll: () => end('SIGKILL'), stop: () => end('SIGTERM') };
}
