// `arduino-connector call <command> [json]`: one request, its answer on stdout, and an exit code a
// script can test (0 INFO, 1 ERROR, 3 no answer in time).

import { decodeBody, isCommandName, requestSchemas, validateRequest, type CommandName } from '../api.js';
import { ConnectorClient, TimeoutError } from '../client.js';
import { ConfigError } from '../errors.js';
import { ValidationError } from '../api/schema.js';
import { readConfigFile } from './config-file.js';
import { localLayout } from './local.js';

import { callUsage } from './call-usage.js';

export const exitCodes = { info: 0, error: 1, usage: 2, timeout: 3 } as const;

/** A client command's end on an error: a time-out is said on stderr and gives its exit code;
 * anything else is thrown on. */
export function timeoutExitCode(err: unknown): number {
  if (!(err instanceof TimeoutError)) throw err;
  process.stderr.write(`${err.message}\n`);
  return exitCodes.timeout;
}

interface Target {
  broker: string;
  device: string;
}

/** Without --broker/--device, the local mode device of --data (or ./arduino-connector-data). */
export async function resolveTarget(flags: Record<string, string | true>): Promise<Target> {
  let broker = typeof flags.broker === 'string' ? flags.broker : undefined;
  let device = typeof flags.device === 'string' ? flags.device : undefined;
  if (!broker || !device) {
    const layout = localLayout(typeof flags.data === 'string' ? flags.data : 'arduino-connector-data');
    const stored = await readConfigFile(layout.configFile, false);
    broker ??= stored.url;
    device ??= stored.id;
  }
  if (!broker || !device) {
    throw new ConfigError('call needs --broker URL and --device ID (or a local mode data folder, see --data)');
  }
  return { broker, device };
}

function parseRequest(command: CommandName, json: string | undefined): unknown {
  if (json === undefined || json.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw new ConfigError(`the request is not JSON: ${(err as Error).message}`);
  }
  try {
    // The same validation the agent applies: a request it would refuse is not sent.
    validateRequest(command, value);
  } catch (err) {
    if (err instanceof ValidationError) throw new ConfigError(`${command}: ${err.message}`);
    throw err;
  }
  return value;
}

export async function runCall(positionals: string[], flags: Record<string, string | true>): Promise<number> {
  const [command, json, extra] = positionals;
  if (!command || extra !== undefined) throw new ConfigError(`usage: ${callUsage}`);
  if (!isCommandName(command)) throw new ConfigError(`unknown command "${command}"; known: ${Object.keys(requestSchemas).join(', ')}`);
  const request = parseRequest(command, json);
  const timeoutSeconds = typeof flags.timeout === 'string' ? Number(flags.timeout) : 30;
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) throw new ConfigError('--timeout: expected a positive number of seconds');
  const target = await resolveTarget(flags);
  let client: ConnectorClient | undefined;
  try {
    client = await ConnectorClient.connect({
      broker: target.broker,
      deviceId: target.device,
      baseTopic: typeof flags['base-topic'] === 'string' ? flags['base-topic'] : undefined,
      connectTimeoutMs: timeoutSeconds * 1000,
    });
    const reply = await client.callRaw(command, JSON.stringify(request), timeoutSeconds * 1000);
    if (reply.ok) {
      const body = decodeBody(reply.body);
      process.stdout.write(`${typeof body === 'string' ? body : JSON.stringify(body, null, 2)}\n`);
      return exitCodes.info;
    }
    process.stderr.write(`ERROR: ${reply.message}\n`);
    return exitCodes.error;
  } catch (err) {
    return timeoutExitCode(err);
  } finally {
    await client?.close();
  }
}
