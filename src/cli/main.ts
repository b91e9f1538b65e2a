#!/usr/bin/env -S node --max-semi-space-size=1 --expose-gc
// The command line: run the agent, run it in local mode, or call a device's API.

import { Agent } from '../agent.js';
import { ConfigError } from '../errors.js';
import { createLogger, errorMessage, stderrIsJournal, type LogLevel, type Logger } from '../log.js';
import { callUsage } from './call-usage.js';
import { deployUsage, signUsage } from './command-usage.js';
import { DEFAULT_CONFIG_FILE, loadSettings, parseArgs, settingsHelp, type FlagDefinition, type ParsedArgs } from './options.js';
import type { Settings } from '../settings.js';
import { IdleCollector } from '../lib/idle-collector.js';
import { applyProxyEnvironment } from '../system/proxy-environment.js';
import { asksForProvisioning, runProvisioning } from './registration.js';
import { ServiceNotifier } from '../system/service-notify.js';
import { SERVICE_NAME } from '../service/layout.js';
import { VERSION } from '../version.js';

const programFlags: FlagDefinition[] = [
  { name: 'help', takesValue: false, help: 'print this help' },
  { name: 'config', takesValue: true, help: `config file (default ${DEFAULT_CONFIG_FILE}; env CONFIG)` },
  { name: 'debug-mqtt', takesValue: false, help: 'log every MQTT message in and out, secrets redacted' },
  { name: 'data', takesValue: true, help: 'local mode: data folder (default ./arduino-connector-data)' },
  { name: 'mqtt-port', takesValue: true, help: 'local mode: MQTT port on 127.0.0.1 (default 1883; 0 = any free port)' },
  { name: 'ws-port', takesValue: true, help: 'local mode: MQTT over WebSocket port on 127.0.0.1 (default 9001; 0 = any free port)' },
  { name: 'console-port', takesValue: true, help: 'local mode: web console port on 127.0.0.1 (default 8080; 0 = any free port)' },
  { name: 'port', takesValue: true, help: 'console: port on 127.0.0.1 (default 8080; 0 = any free port)' },
  { name: 'console-dir', takesValue: true, help: 'console, local mode: folder of the built web console (default: dist/console beside the program)' },
  { name: 'stale-after', takesValue: true, help: 'console: seconds without a heartbeat before a device without presence shows offline (default 45)' },
  { name: 'broker', takesValue: true, help: 'call: broker URL (default: the local mode broker of ./arduino-connector-data); console: the broker\'s ws:// or wss:// URL (default ws://127.0.0.1:9001)' },
  { name: 'device', takesValue: true, help: 'call: device id (default: the local mode device)' },
  { name: 'base-topic', takesValue: true, help: 'call: base topic template (default $aws/things/{id})' },
  { name: 'timeout', takesValue: true, help: 'call: seconds to wait for the answer (default 30); console: the same for the page\'s requests (default 60)' },
  { name: 'login', takesValue: false, help: 'log in to the Arduino cloud (open the URL shown, enter the code) and print the access token' },
  { name: 'register', takesValue: false, help: 'register this device: key, certificate and broker from the cloud, config file written, B/register sent (-token skips the login)' },
  { name: 'provision', takesValue: false, help: 'print a certificate request (CSR) for the key in cert_path, made if absent' },
  { name: 'configure', takesValue: false, help: 'connect with the stored certificate and send B/register (--timeout: seconds to wait for the broker)' },
  { name: 'version', takesValue: false, help: 'print the version' },
  { name: 'install', takesValue: false, help: `install this release as the system service ${SERVICE_NAME} and enable it` },
  { name: 'uninstall', takesValue: false, help: 'remove the service and the program; config, certificates and sketches stay' },
  { name: 'purge', takesValue: false, help: '-uninstall: also remove config, certificates and sketches' },
  { name: 'root', takesValue: true, help: '-install/-uninstall: the system root to work in (default /; for images and tests)' },
];

function usage(): string {
  const width = Math.max(...programFlags.map((f) => f.name.length)) + 2;
  const flags = programFlags.map((f) => `  --${f.name.padEnd(width)}${f.help}`).join('\n');
  return `Usage:
  arduino-connector [settings]          run the agent (config file, then environment, then flags)
  arduino-connector local [settings]    run an embedded broker on 127.0.0.1 and the agent on it
  ${callUsage}
  ${deployUsage}
                                        sign FILE with the local key, serve it once on 127.0.0.1, upload
                                        it to the local device and follow its terminal until Ctrl-C
  ${signUsage}
                                        write FILE.sig for devices whose signature_key is KEY's public half
  arduino-connector console [--broker URL] [--port P] [--base-topic T]
                                        serve the web console on 127.0.0.1

Program flags (one or two dashes):
${flags}

Settings (config file key=value, flag -key value or -key=value, or environment KEY):
${settingsHelp()}
`;
}

function levelOf(settings: Settings): LogLevel {
  const level = settings.log_level.toLowerCase();
  if (level === 'debug' || level === 'info' || level === 'warn' || level === 'error') return level;
  throw new ConfigError(`log_level: expected debug, info, warn or error, got "${settings.log_level}"`);
}

async function resolveSettings(args: ParsedArgs): Promise<Settings> {
  const configFile = typeof args.flags.config === 'string' ? args.flags.config : undefined;
  const { settings } = await loadSettings({ args, env: process.env, configFile });
  if (args.flags['debug-mqtt']) settings.debug_mqtt = true;
  levelOf(settings);
  return settings;
}

function portFlag(args: ParsedArgs, name: string, fallback: number): number {
  const value = args.flags[name];
  if (value === undefined) return fallback;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`--${name}: expected a port number, got "${String(value)}"`);
  return port;
}

/** Stops everything on SIGTERM/SIGINT; a second signal ends the process at once. */
function onShutdown(log: Logger, stop: () => Promise<void>, service?: ServiceNotifier): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1);
    stopping = true;
    log.info(`${signal}: stopping`);
    service?.stopping(`${signal}: stopping`);
    stop()
      .then(() => process.exit(0))
      .catch((err) => {
        log.error(`stop failed: ${errorMessage(err)}`);
        process.exit(1);
      });
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

async function runAgent(args: ParsedArgs): Promise<void> {
  const settings = await resolveSettings(args);
  const log = createLogger({ level: levelOf(settings), journal: stderrIsJournal() });
  // Before anything starts a child: it takes NOTIFY_SOCKET out of the environment children get.
  const service = new ServiceNotifier({ log });
  service.startWatchdog();
  guardProcess(log);
  startIdleCollector(log);
  applyProxyEnvironment(settings);
  let exiting = false;
  // An update switched in, or a probation missed: a clean stop, then a non-zero code so that the
  // unit's Restart=on-failure runs the selector again.
  const requestExit = (code: number, why: string) => {
    if (exiting) return;
    exiting = true;
    log.info(`${why}: stopping, exit code ${code} (the service starts it again)`);
    service.stopping(why);
    void agent.stop().catch((err: unknown) => log.error(`stop failed: ${errorMessage(err)}`)).finally(() => process.exit(code));
  };
  const agent = new Agent({ settings, log, onBrokerStatus: (status) => service.status(status), requestExit });
  const starting = agent.start();
  // A stop asked for while the features start (systemctl stop at boot) waits for them, then
  // stops them cleanly, instead of the default SIGTERM action ending the process midway.
  onShutdown(log, () => starting.catch(() => {}).then(() => agent.stop()), service);
  await starting;
  // Started locally: ready, whether or not the broker answers yet.
  service.ready(`started; connecting to the broker`);
}

async function runLocal(args: ParsedArgs): Promise<void> {
  // The embedded broker (aedes, ws) is loaded only in local mode: a device agent does not carry it.
  const { localLayout, localSettings, startLocalBroker } = await import('./local.js');
  const { DEFAULT_CONSOLE_PORT, DEFAULT_LOCAL_WS_PORT, serveLocalConsole, consoleTiming, localDropPublisher } = await import('./console.js');
  const { localKeyPaths } = await import('./signing.js');
  const base = await resolveSettings(args);
  const log = createLogger({ level: levelOf(base), journal: stderrIsJournal() });
  guardProcess(log);
  startIdleCollector(log);
  const layout = localLayout(typeof args.flags.data === 'string' ? args.flags.data : 'arduino-connector-data');
  const broker = await startLocalBroker({ mqttPort: portFlag(args, 'mqtt-port', 1883), wsPort: portFlag(args, 'ws-port', DEFAULT_LOCAL_WS_PORT) });
  const settings = await localSettings(base, layout, broker.mqttUrl);
  applyProxyEnvironment(settings);
  const agent = new Agent({ settings, log });
  await agent.start();
  const consoleServer = await serveLocalConsole(
    { brokerUrl: broker.wsUrl, baseTopic: settings.base_topic, ...consoleTiming(args.flags) },
    portFlag(args, 'console-port', DEFAULT_CONSOLE_PORT),
    args.flags,
    // Dropped programs are signed with local mode's own key; a signature_key of the user's has
    // its private half elsewhere, so the page then deploys by URL only.
    base.signature_key ? undefined : localDropPublisher(localKeyPaths(layout.dataDir).privateKeyPath, settings.max_sketch_size),
  );
  onShutdown(log, async () => {
    await consoleServer?.close();
    await agent.stop();
    await broker.close();
  });
  const topicBase = agent.base;
  const self = `node ${process.argv[1] ?? 'dist/arduino-connector.js'}`;
  process.stdout.write(`arduino-connector is running in local mode.
  device id:   ${settings.id}
  broker:      ${broker.mqttUrl}  (MQTT over WebSocket: ${broker.wsUrl})
  base topic:  ${topicBase}
  data folder: ${layout.dataDir}
console: ${consoleServer ? consoleServer.url : 'not built (npm run build builds it)'}

Talk to it from another terminal:
  ${self} call status --data ${layout.dataDir}
  ${self} call stats --data ${layout.dataDir}
  ${self} deploy PROGRAM --data ${layout.dataDir}${base.signature_key ? ' --key YOUR-PRIVATE-KEY' : ''}
  mosquitto_sub -h 127.0.0.1 -p ${new URL(broker.mqttUrl).port} -t '${topicBase}/#' -v
Stop it with Ctrl-C.
`);
}

/** A stray rejection inside a library (dbus-next re-throws in a .catch when a bus refuses Hello)
 * must not end a device agent: it is logged, and the part that caused it answers ERROR:. */
function guardProcess(log: Logger): void {
  process.on('unhandledRejection', (reason) => {
    log.error(`unhandled rejection (kept running): ${reason instanceof Error && reason.stack ? reason.stack : String(reason)}`);
  });
  // Node prints its warnings on stderr in two lines of its own, which the journal would take
  // without a priority: they go through the log instead. A deprecation inside a library (MQTT.js
  // calls url.parse, which Node 24 flags) is nothing a device admin can act on.
  process.removeAllListeners('warning');
  process.on('warning', (warning: Error & { code?: string }) => {
    const text = `node: ${warning.name}${warning.code ? ` ${warning.code}` : ''}: ${warning.message}`;
    if (warning.name === 'DeprecationWarning') log.debug(text);
    else log.warn(text);
  });
}

/** Gives memory back after bursts of work; its timer never keeps the process alive. */
function startIdleCollector(log: Logger): void {
  const collector = new IdleCollector();
  if (collector.enabled) collector.start();
  else log.debug('node runs without --expose-gc: memory is left to V8 after bursts of work');
}

export async function main(argv: string[]): Promise<number> {
  // deploy and sign have flags of their own (--id, --name, --key) that are not the agent's.
  if (argv[0] === 'deploy') return (await import('./deploy.js')).runDeploy(argv.slice(1));
  if (argv[0] === 'sign') return (await import('./sign.js')).runSign(argv.slice(1));
  const args = parseArgs(argv, programFlags);
  if (args.flags.help) {
    process.stdout.write(usage());
    return 0;
  }
  if (args.flags.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (args.flags.install || args.flags.uninstall) {
    const { runServiceAction } = await import('./service.js');
    return runServiceAction(args);
  }
  if (asksForProvisioning(args)) return runProvisioning(args);
  const [verb, ...rest] = args.positionals;
  switch (verb) {
    case undefined:
    case 'run':
      if (rest.length > 0) throw new ConfigError(`unexpected argument "${rest[0]}" (see --help)`);
      await runAgent(args);
      return -1;
    case 'local':
      if (rest.length > 0) throw new ConfigError(`unexpected argument "${rest[0]}" (see --help)`);
      await runLocal(args);
      return -1;
    case 'console': {
      if (rest.length > 0) throw new ConfigError(`unexpected argument "${rest[0]}" (see --help)`);
      const { runConsole, DEFAULT_CONSOLE_PORT } = await import('./console.js');
      await runConsole(args.flags, portFlag(args, 'port', DEFAULT_CONSOLE_PORT));
      return -1;
    }
    case 'call': {
      const { runCall } = await import('./call.js');
      return runCall(rest, args.flags);
    }
    default:
      throw new ConfigError(`unknown command "${verb}" (see --help)`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    // -1: a long-running agent; it ends through its signal handlers.
    if (code >= 0) process.exit(code);
  },
  (err) => {
    const priority = stderrIsJournal() ? '<3>' : '';
    process.stderr.write(`${priority}arduino-connector: ${err instanceof ConfigError ? err.message : errorMessage(err)}\n`);
    process.exit(2);
  },
);
