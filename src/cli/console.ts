// `arduino-connector console`: serves the web console on 127.0.0.1 for a broker the browser can
// reach over WebSocket, until Ctrl-C.

import { ConfigError } from '../errors.js';
import { DEFAULT_BASE_TOPIC } from '../api.js';
import type { DropPublisher } from '../console/drop-deploy.js';
import { defaultConsoleRoot, startConsoleServer, validateConsoleConfig, type ConsoleConfig, type ConsoleServer } from '../console/server.js';
import { serveOnce } from './one-shot-server.js';
import { loadPrivateKey, signFile } from './signing.js';

/** The console's port when none is given (an HTTP alternate port, apart from MQTT's). */
export const DEFAULT_CONSOLE_PORT = 8080;
/** Local mode's MQTT-over-WebSocket port: mosquitto's customary WebSocket listener port. */
export const DEFAULT_LOCAL_WS_PORT = 9001;
/** Three heartbeats of the default 15 s interval. */
export const DEFAULT_STALE_AFTER_SECONDS = 45;

/** Long enough for an upload's download and signature check on a slow link. */
export const DEFAULT_ANSWER_TIMEOUT_SECONDS = 60;

function secondsFlag(name: string, value: string | true | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const seconds = Number(value);
  if (value === true || !Number.isFinite(seconds) || seconds <= 0) throw new ConfigError(`--${name}: expected a positive number of seconds, got "${String(value)}"`);
  return seconds;
}

/** The page's timing: --stale-after and --timeout. */
export function consoleTiming(flags: Record<string, string | true>): { staleAfterSeconds: number; answerTimeoutSeconds: number } {
  return {
    staleAfterSeconds: secondsFlag('stale-after', flags['stale-after'], DEFAULT_STALE_AFTER_SECONDS),
    answerTimeoutSeconds: secondsFlag('timeout', flags.timeout, DEFAULT_ANSWER_TIMEOUT_SECONDS),
  };
}

/** Starts the console server for `config`; a missing build or a bad option is a ConfigError. */
export async function serveConsole(config: ConsoleConfig, port: number, dir?: string, publisher?: DropPublisher): Promise<ConsoleServer> {
  try {
    validateConsoleConfig(config);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const root = dir ?? defaultConsoleRoot();
  if (!root) throw new ConfigError('console: the web app is not built (run npm run build)');
  return startConsoleServer({ root, config, port, ...(publisher ? { publisher } : {}) });
}

/** How long a dropped program waits to be fetched: as long as `deploy` waits for its upload. */
const DROP_SERVE_MS = 120_000;

/** Local mode's publisher of dropped programs: signed with the private key at `keyPath` (read at
 * each drop, so it is not held in memory between them), served once on 127.0.0.1. */
export function localDropPublisher(keyPath: string, maxBytes: number): DropPublisher {
  return {
    maxBytes,
    async publish(file) {
      const signature = await signFile(file, await loadPrivateKey(keyPath));
      const server = await serveOnce(
        new Map([
          ['/program', { file }],
          ['/program.sig', { data: signature }],
        ]),
        DROP_SERVE_MS,
      );
      return { url: `${server.origin}/program`, token: server.token, done: server.done };
    },
  };
}

function consoleDirFlag(flags: Record<string, string | true>): string | undefined {
  return typeof flags['console-dir'] === 'string' ? flags['console-dir'] : undefined;
}

export async function runConsole(flags: Record<string, string | true>, port: number): Promise<void> {
  const broker = typeof flags.broker === 'string' ? flags.broker : `ws://127.0.0.1:${DEFAULT_LOCAL_WS_PORT}`;
  const baseTopic = typeof flags['base-topic'] === 'string' ? flags['base-topic'] : DEFAULT_BASE_TOPIC;
  const server = await serveConsole({ brokerUrl: broker, baseTopic, ...consoleTiming(flags) }, port, consoleDirFlag(flags));
  process.stdout.write(`console: ${server.url}\n  broker: ${broker.replace(/\/\/[^@/]*@/, '//***@')}\n  base topic: ${baseTopic}\nStop it with Ctrl-C.\n`);
  const stop = () => void server.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/** Local mode's console: served when the app is built (`npm start` builds it), else left out, so
 * that local mode still runs from a checkout that only type-checks. */
export async function serveLocalConsole(config: ConsoleConfig, port: number, flags: Record<string, string | true>, publisher?: DropPublisher): Promise<ConsoleServer | undefined> {
  const dir = consoleDirFlag(flags);
  if (!dir && !defaultConsoleRoot()) return undefined;
  return serveConsole(config, port, dir, publisher);
}
