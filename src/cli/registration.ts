// The provisioning actions of the command line: -login, -register, -provision and -configure.
// The work is in src/registration/; here the settings are read, the user is told what happens, and
// every failure becomes one line: `arduino-connector -register: <what failed and why>`.

import { ConfigError } from '../errors.js';
import { createLogger, errorMessage, type LogLevel } from '../log.js';
import type { RegisterPayload } from '../api/register.js';
import { baseTopic } from '../api/topics.js';
import { parseMqttVersion, settingDefinitions, type Settings } from '../settings.js';
import { applyProxyEnvironment } from '../system/proxy-environment.js';
import { deviceLogin, type LoginPrompt } from '../registration/device-login.js';
import { configureDevice, provisionCsr, registerDevice } from '../registration/provisioning.js';
import { redact } from '../registration/cloud-http.js';
import { escapeText } from '../text.js';
import { formatConfigFile } from './config-file.js';
import { loadSettings, type LoadedSettings, type ParsedArgs } from './options.js';

export const provisioningActions = ['login', 'register', 'provision', 'configure'] as const;
export type ProvisioningAction = (typeof provisioningActions)[number];

/** The API the access token is asked for, as the Go agent asked. */
const TOKEN_AUDIENCE = 'https://api.arduino.cc';

const say = (line: string) => void process.stdout.write(`${line}\n`);
const tell = (line: string) => void process.stderr.write(`${line}\n`);

function logLevel(settings: Settings): LogLevel {
  const level = settings.log_level.toLowerCase();
  if (level === 'debug' || level === 'info' || level === 'warn' || level === 'error') return level;
  throw new ConfigError(`log_level: expected debug, info, warn or error, got "${settings.log_level}"`);
}

function timeoutMs(args: ParsedArgs): number {
  const value = args.flags.timeout;
  if (value === undefined) return 30_000;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new ConfigError(`--timeout: expected a number of seconds, got "${String(value)}"`);
  return seconds * 1000;
}

function duration(seconds: number): string {
  return seconds < 120 ? `${Math.round(seconds)} s` : `${Math.round(seconds / 60)} min`;
}

function showPrompt(out: (line: string) => void) {
  return (prompt: LoginPrompt) => {
    out(`To log in, open ${prompt.verificationUri}${prompt.userCode ? ` and enter the code ${prompt.userCode}` : ''}`);
    if (prompt.verificationUriComplete && prompt.verificationUriComplete !== prompt.verificationUri) {
      out(`  (or open ${prompt.verificationUriComplete}, which holds the code)`);
    }
    out(`Waiting for the confirmation (the code is valid for ${duration(prompt.expiresInSeconds)})...`);
  };
}

function login(settings: Settings, out: (line: string) => void): Promise<string> {
  return deviceLogin({
    authUrl: settings.authurl,
    clientId: settings.auth_client_id,
    audience: TOKEN_AUDIENCE,
    prompt: showPrompt(out),
    slowedDown: (seconds) => out(`The server asked to be polled less often: every ${seconds} s now.`),
  });
}

/** What -register keeps in the config file: every setting given (config file, environment or
 * flag; never the token), the device id, the broker url from the cloud, and cert_path. */
function registeredConfig(loaded: LoadedSettings, url: string): string {
  const kept: Record<string, unknown> = {};
  for (const d of settingDefinitions) {
    if (loaded.sources[d.key] !== 'default') kept[d.key] = loaded.settings[d.key as keyof Settings];
  }
  return formatConfigFile({ ...(kept as Partial<Settings>), url, cert_path: loaded.settings.cert_path }, ['cert_path']);
}

function sentLine(message: RegisterPayload): string {
  const macs = message.MACs.length === 1 ? '1 MAC address' : `${message.MACs.length} MAC addresses`;
  return `Register message sent (host ${message.Host}, ${macs}).`;
}

function connectionOf(settings: Settings) {
  return {
    username: settings.mqtt_username || undefined,
    password: settings.mqtt_password || undefined,
    mqttVersion: parseMqttVersion(settings.mqtt_version),
    debugMqtt: settings.debug_mqtt,
  };
}

async function run(action: ProvisioningAction, args: ParsedArgs, loaded: LoadedSettings): Promise<void> {
  const { settings } = loaded;
  const log = createLogger({ level: logLevel(settings) });
  applyProxyEnvironment(settings);
  const base = () => baseTopic(settings.base_topic, settings.id);
  switch (action) {
    case 'login':
      // The prompt goes to stderr, so `TOKEN=$(arduino-connector -login)` keeps the token alone.
      say(await login(settings, tell));
      return;
    case 'register': {
      let token = settings.token;
      if (token === '') {
        token = await login(settings, say);
        say('Logged in.');
      }
      const result = await registerDevice({
        deviceId: settings.id,
        certPath: settings.cert_path,
        configFile: loaded.configFile,
        configText: (url) => registeredConfig(loaded, url),
        apiUrl: settings.apiurl,
        token,
        connection: connectionOf(settings),
        base: base(),
        connectTimeoutMs: timeoutMs(args),
        log: log.child('mqtt'),
        progress: say,
      });
      say(sentLine(result.message));
      say('Setup completed.');
      return;
    }
    case 'provision':
      process.stdout.write(await provisionCsr({ deviceId: settings.id, certPath: settings.cert_path, progress: tell }));
      return;
    case 'configure': {
      const message = await configureDevice({
        deviceId: settings.id,
        connection: { ...connectionOf(settings), url: settings.url, certPath: settings.cert_path || undefined },
        base: base(),
        connectTimeoutMs: timeoutMs(args),
        log: log.child('mqtt'),
      });
      say(sentLine(message));
      return;
    }
  }
}

/** Whether the flags ask for one of these actions. */
export function asksForProvisioning(args: ParsedArgs): boolean {
  return provisioningActions.some((action) => args.flags[action] === true || args.flags[action] === 'true');
}

/** Runs the one action the flags ask for; 0 when it worked, 1 when it failed, 2 for bad settings. */
export async function runProvisioning(args: ParsedArgs): Promise<number> {
  const chosen = provisioningActions.filter((action) => args.flags[action] === true || args.flags[action] === 'true');
  if (chosen.length !== 1) throw new ConfigError(`choose one of ${provisioningActions.map((a) => `-${a}`).join(', ')}, not ${chosen.map((a) => `-${a}`).join(' and ')}`);
  const action = chosen[0] as ProvisioningAction;
  if (args.positionals.length > 0) throw new ConfigError(`unexpected argument "${args.positionals[0]}" with -${action}`);
  const configFile = typeof args.flags.config === 'string' ? args.flags.config : undefined;
  let secrets: string[] = [];
  try {
    const loaded = await loadSettings({ args, env: process.env, configFile, configOptional: action === 'register' });
    if (args.flags['debug-mqtt']) loaded.settings.debug_mqtt = true;
    secrets = [loaded.settings.token];
    await run(action, args, loaded);
    return 0;
  } catch (err) {
    process.stderr.write(`arduino-connector -${action}: ${escapeText(redact(errorMessage(err), secrets), 2000)}\n`);
    return err instanceof ConfigError ? 2 : 1;
  }
}
