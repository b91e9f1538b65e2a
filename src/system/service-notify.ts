// Tells systemd how the agent is doing, through the sd_notify(3) protocol: READY=1 once it has
// started locally (whether or not the broker answers: a device that boots without network must
// not fail its start), STATUS= lines about the broker, WATCHDOG=1 from a timer on the event loop
// (so a loop that hangs stops feeding, and WatchdogSec= gets the agent restarted), STOPPING=1.
//
// Node has no unix datagram sockets, and `systemd-notify` run as a child sends from another pid,
// which NotifyAccess=main ignores: the datagram goes out through the project's Node-API addon
// (native/sd-notify.c), which the bundle loads from its own folder.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getSystemErrorName } from 'node:util';
import type { Logger } from '../log.js';
import { escapeText } from '../text.js';

/** The addon's file name; the build writes it beside the bundle. */
export const notifyAddonFile = 'sd-notify.node';

interface NotifyAddon {
  /** 0, or the errno of a failed send. */
  send(socket: string, message: string): number;
}

export interface NotifyEnvironment {
  /** NOTIFY_SOCKET: a path, or @name in the abstract namespace; undefined when not under a
   * service manager that listens. */
  socket: string | undefined;
  /** Half of WATCHDOG_USEC, as systemd advises, when the watchdog is on for this process. */
  watchdogIntervalMs: number | undefined;
  /** Why a variable that is set is not used, for the log. */
  ignored: string[];
}

/** What the service manager asks of process `pid`, from its environment (systemd.exec(5)). */
export function readNotifyEnvironment(env: NodeJS.ProcessEnv, pid: number): NotifyEnvironment {
  const ignored: string[] = [];
  let socket = env.NOTIFY_SOCKET || undefined;
  if (socket !== undefined && !socket.startsWith('/') && !socket.startsWith('@')) {
    ignored.push(`NOTIFY_SOCKET=${socket}: only a unix socket path or an @abstract name is supported`);
    socket = undefined;
  }
  let watchdogIntervalMs: number | undefined;
  const usec = env.WATCHDOG_USEC;
  const watchdogPid = env.WATCHDOG_PID;
  if (usec !== undefined && usec !== '') {
    const value = /^\d+$/.test(usec) ? Number(usec) : NaN;
    if (!Number.isSafeInteger(value) || value <= 0) ignored.push(`WATCHDOG_USEC=${usec}: not a positive number of microseconds`);
    else if (watchdogPid && watchdogPid !== String(pid)) ignored.push(`WATCHDOG_PID=${watchdogPid}: the watchdog is another process's (this is ${pid})`);
    else watchdogIntervalMs = Math.max(1, Math.floor(value / 2000));
  }
  return { socket, watchdogIntervalMs, ignored };
}

/** The addon beside this module (in the bundle: beside dist/arduino-connector.js), or why not. */
export function loadNotifyAddon(path = join(dirname(fileURLToPath(import.meta.url)), notifyAddonFile)): NotifyAddon | string {
  if (!existsSync(path)) return `${path} is missing`;
  try {
    const addon = createRequire(import.meta.url)(path) as Partial<NotifyAddon>;
    if (typeof addon.send !== 'function') return `${path} has no send()`;
    return addon as NotifyAddon;
  } catch (err) {
    return `${path} does not load: ${err instanceof Error ? err.message : String(err)}`;
  }
}

export interface ServiceNotifierOptions {
  log: Logger;
  /** Default: process.env, from which the three variables are then removed, as sd_notify's
   * unset_environment does, so that sketches and package tools do not inherit them. */
  env?: NodeJS.ProcessEnv;
  /** Default: the addon beside this module. */
  addonPath?: string;
}

export class ServiceNotifier {
  private readonly socket: string | undefined;
  private readonly addon: NotifyAddon | undefined;
  private readonly watchdogIntervalMs: number | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private lastStatus: string | undefined;
  private lastFailure: string | undefined;
  private stopped = false;

  constructor(private readonly options: ServiceNotifierOptions) {
    const { log } = options;
    const env = options.env ?? process.env;
    const found = readNotifyEnvironment(env, process.pid);
    if (env === process.env) {
      delete env.NOTIFY_SOCKET;
      delete env.WATCHDOG_USEC;
      delete env.WATCHDOG_PID;
    }
    for (const reason of found.ignored) log.warn(`service manager: ignored ${reason}`);
    if (!found.socket) {
      log.debug('not started by a service manager that listens (NOTIFY_SOCKET unset): no readiness or watchdog notifications');
      return;
    }
    const addon = loadNotifyAddon(options.addonPath);
    if (typeof addon === 'string') {
      // Under Type=notify systemd waits for READY=1 and gives up on the start after its time-out.
      log.error(`NOTIFY_SOCKET is set but the agent cannot notify the service manager: ${addon}`);
      return;
    }
    this.socket = found.socket;
    this.addon = addon;
    this.watchdogIntervalMs = found.watchdogIntervalMs;
    log.debug(`service manager notifications to ${found.socket}${found.watchdogIntervalMs ? `, watchdog fed every ${found.watchdogIntervalMs} ms` : ''}`);
  }

  /** True when notifications go out. */
  get active(): boolean {
    return this.addon !== undefined;
  }

  /** Feeds the watchdog from a timer on the event loop, which never keeps the process alive. */
  startWatchdog(): void {
    if (!this.active || !this.watchdogIntervalMs || this.watchdog) return;
    this.watchdog = setInterval(() => this.send('WATCHDOG=1'), this.watchdogIntervalMs);
    this.watchdog.unref();
    this.send('WATCHDOG=1');
  }

  /** READY=1, with the last status told, or `status` when none was; nothing once stopping. */
  ready(status: string): void {
    if (this.stopped) return;
    this.lastStatus ??= status;
    this.send(`READY=1\nSTATUS=${oneLine(this.lastStatus)}`);
  }

  /** A line for `systemctl status`; sent only when it changes, and no more once stopping. */
  status(text: string): void {
    if (this.stopped || text === this.lastStatus) return;
    this.lastStatus = text;
    this.send(`STATUS=${oneLine(text)}`);
  }

  stopping(status = 'stopping'): void {
    this.stopped = true;
    this.lastStatus = status;
    this.send(`STOPPING=1\nSTATUS=${oneLine(status)}`);
  }

  stopWatchdog(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = undefined;
  }

  private send(message: string): void {
    if (!this.addon || !this.socket) return;
    const errno = this.addon.send(this.socket, message);
    if (errno === 0) {
      this.lastFailure = undefined;
      return;
    }
    // Said once per kind of failure, not on every watchdog beat.
    const failure = `${getSystemErrorName(-errno)} (errno ${errno})`;
    if (failure === this.lastFailure) return;
    this.lastFailure = failure;
    this.options.log.warn(`cannot notify the service manager at ${this.socket}: ${failure}`);
  }
}

/** One assignment per line is the protocol: a newline in a status would start another. */
function oneLine(text: string): string {
  return escapeText(text, 1024);
}
