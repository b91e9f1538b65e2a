// `arduino-connector deploy FILE`: the program signed with the local key, served once on
// 127.0.0.1, sent as `upload` to the local device, then its terminal followed until Ctrl-C.

import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { decodeBody, decodeStream, requestSchemas, topics, type RequestOf, type SketchStatus } from '../api.js';
import { ValidationError } from '../api/schema.js';
import { ConnectorClient } from '../client.js';
import { ConfigError } from '../errors.js';
import { escapeText } from '../text.js';
import { exitCodes, resolveTarget, timeoutExitCode } from './call.js';
import { localLayout } from './local.js';
import { serveOnce } from './one-shot-server.js';
import { attachTerminal } from './sketch-terminal.js';
import { loadPrivateKey, localKeyPaths, signFile } from './signing.js';
import { deployUsage } from './command-usage.js';
import { parseArgs, type FlagDefinition } from './options.js';


const deployFlags: FlagDefinition[] = [
  { name: 'name', takesValue: true, help: 'sketch name (default: the file name)' },
  { name: 'id', takesValue: true, help: 'sketch id (default: the name)' },
  { name: 'data', takesValue: true, help: 'local mode data folder: device, broker and key (default ./arduino-connector-data)' },
  { name: 'broker', takesValue: true, help: 'broker URL (default: the local mode broker)' },
  { name: 'device', takesValue: true, help: 'device id (default: the local mode device)' },
  { name: 'base-topic', takesValue: true, help: 'base topic template (default $aws/things/{id})' },
  { name: 'key', takesValue: true, help: 'private RSA key that signs the program (default: the data folder\'s signing-key.pem)' },
  { name: 'timeout', takesValue: true, help: 'seconds to wait for the upload answer (default 120)' },
];

export interface DeployOptions {
  file: string;
  name: string;
  id?: string;
  keyPath: string;
  timeoutMs: number;
  flags: Record<string, string | true>;
}

/** The command line of `deploy` (what follows the word), checked before anything is signed or sent. */
export function parseDeployArgs(argv: string[]): DeployOptions {
  const args = parseArgs(argv, deployFlags);
  const stray = Object.keys(args.settings)[0];
  if (stray !== undefined) throw new ConfigError(`deploy: unknown flag -${stray} (usage: ${deployUsage})`);
  const [file, extra] = args.positionals;
  if (file === undefined || extra !== undefined) throw new ConfigError(`usage: ${deployUsage}`);
  const flags = args.flags;
  for (const [name, value] of Object.entries(flags)) {
    if (value === '') throw new ConfigError(`deploy: --${name} is empty`);
  }
  const name = typeof flags.name === 'string' ? flags.name : basename(file);
  const id = typeof flags.id === 'string' ? flags.id : undefined;
  try {
    // The agent's own check of the request, so a name it would refuse fails here, before signing.
    requestSchemas.upload.parse({ url: 'http://127.0.0.1/', name, ...(id === undefined ? {} : { id }) }, '');
  } catch (err) {
    if (err instanceof ValidationError) throw new ConfigError(`deploy: ${err.message.replace(/^field "(\w+)"/, '--$1')}`);
    throw err;
  }
  const timeoutSeconds = typeof flags.timeout === 'string' ? Number(flags.timeout) : 120;
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) throw new ConfigError('deploy: --timeout: expected a positive number of seconds');
  const dataDir = localLayout(typeof flags.data === 'string' ? flags.data : 'arduino-connector-data').dataDir;
  const keyPath = typeof flags.key === 'string' ? flags.key : localKeyPaths(dataDir).privateKeyPath;
  return { file, name, id, keyPath, timeoutMs: timeoutSeconds * 1000, flags };
}

async function checkProgram(file: string): Promise<void> {
  const info = await stat(file).catch((err: NodeJS.ErrnoException) => {
    throw new ConfigError(`deploy: cannot read ${file}: ${err.code === 'ENOENT' ? 'no such file' : (err.code ?? err.message)}`);
  });
  if (!info.isFile()) throw new ConfigError(`deploy: ${file} is not a file`);
}

async function loadKey(options: DeployOptions) {
  return loadPrivateKey(options.keyPath).catch((err: Error) => {
    if (options.flags.key === undefined && /no such file/.test(err.message)) {
      throw new ConfigError(`deploy: no local signing key at ${options.keyPath} (local mode makes it when it starts without a signature_key of yours): pass --key with the private half of the device's signature_key`);
    }
    throw err;
  });
}

export async function runDeploy(argv: string[]): Promise<number> {
  const options = parseDeployArgs(argv);
  await checkProgram(options.file);
  const key = await loadKey(options);
  const signature = await signFile(options.file, key);
  const target = await resolveTarget(options.flags);
  const id = options.id ?? options.name;
  const server = await serveOnce(
    new Map([
      ['/program', { file: options.file }],
      ['/program.sig', { data: signature }],
    ]),
    options.timeoutMs,
  );
  let client: ConnectorClient | undefined;
  try {
    client = await ConnectorClient.connect({
      broker: target.broker,
      deviceId: target.device,
      baseTopic: typeof options.flags['base-topic'] === 'string' ? options.flags['base-topic'] : undefined,
    });
    const connected = client;
    // Followed before the upload: a program's first lines come before the answer.
    await connected.follow(topics.sketchStdout(connected.base, id), (_topic, payload) => void process.stdout.write(payload));
    let started = false;
    let lastState = 'RUNNING';
    // A program that ends says so (its exit code), rather than leaving a silent terminal.
    await connected.follow(topics.status(connected.base), (_topic, payload) => {
      const sketch = sketchIn(payload.toString('utf8'), id);
      if (!started || !sketch) return;
      if (sketch.status === 'STOPPED' && lastState !== 'STOPPED') process.stderr.write(`${endedText(options.name, sketch)}\n`);
      lastState = sketch.status;
    });
    const request: RequestOf<'upload'> = { token: server.token, url: `${server.origin}/program`, name: options.name, id };
    const reply = await connected.call('upload', request, options.timeoutMs);
    if (!reply.ok) {
      process.stderr.write(`ERROR: ${reply.message}\n`);
      return exitCodes.error;
    }
    started = true;
    const body = decodeBody(reply.body);
    process.stderr.write(`${typeof body === 'string' ? body : JSON.stringify(body)} (sketch ${id} on ${target.device}; Ctrl-C leaves it running and stops following)\n`);
    const stdin = topics.sketchStdin(connected.base, id);
    await new Promise<void>((resolve) => {
      const detach = attachTerminal({
        input: process.stdin,
        send: (bytes) => void connected.publish(stdin, bytes).catch(() => {}),
        onQuit: () => {
          detach();
          resolve();
        },
      });
    });
    return exitCodes.info;
  } catch (err) {
    return timeoutExitCode(err);
  } finally {
    await server.close();
    await client?.close();
  }
}

function sketchIn(payload: string, id: string): SketchStatus | undefined {
  try {
    return decodeStream('status', payload).sketches[id];
  } catch {
    return undefined;
  }
}

function endedText(name: string, sketch: SketchStatus): string {
  const how = sketch.signal ? `signal ${escapeText(String(sketch.signal), 40)}` : sketch.exit_code !== undefined && sketch.exit_code !== null ? `exit code ${sketch.exit_code}` : 'stopped';
  return `${escapeText(name)} ended (${how}); Ctrl-C stops following`;
}
