// Registration and provisioning of the device: -register (key, CSR, certificate and broker from
// the cloud, files written together, B/register sent), -provision (a CSR for the stored key) and
// -configure (B/register with the stored certificate). What the user reads is the caller's: this
// module reports each step through `progress`.

import { constants } from 'node:fs';
import { access, mkdir, rmdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { ConfigError, FailedError } from '../errors.js';
import { stageFile, writeFileAtomic, type StagedFile } from '../lib/atomic-file.js';
import type { RegisterPayload } from '../api/register.js';
import { errorMessage, type Logger } from '../log.js';
import type { ConnectionSettings } from '../mqtt/broker-options.js';
import { buildCsr } from './csr.js';
import { requestBrokerUrl, requestCertificate } from './device-api.js';
import { DEVICE_CERT_FILE, DEVICE_KEY_FILE, deviceKeyPem, generateDeviceKey, readDeviceKey } from './device-key.js';
import { sendRegisterMessage } from './register-message.js';

/** The id is the certificate's CN, a path segment of the device API and part of every topic. */
export function checkDeviceId(id: string): string {
  if (id === '') throw new ConfigError('no device id: give -id (or ID, or id in the config file)');
  if (id.length > 128 || /[\s/+#\u0000-\u001f\u007f]/.test(id)) {
    throw new ConfigError(`device id ${JSON.stringify(id.slice(0, 140))}: at most 128 characters, without white space, "/", "+" or "#"`);
  }
  return id;
}

function checkCertPath(certPath: string): string {
  if (certPath === '') throw new ConfigError('cert_path is empty: it names the folder of certificate.key and certificate.pem');
  return resolve(certPath);
}

/** Fails before anything is asked of the cloud when a file could not be written afterwards: the
 * nearest existing folder on the way to `dir` must be writable. */
async function checkWritable(dir: string): Promise<void> {
  for (let current = resolve(dir); ; current = dirname(current)) {
    try {
      await access(current, constants.W_OK | constants.X_OK);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' || dirname(current) === current) throw new ConfigError(`cannot write in ${current}: ${errorMessage(err)}`);
    }
  }
}

/** Makes `dir` (0700) and returns the folders made, outermost first, for an undo. */
async function makeFolder(dir: string): Promise<string[]> {
  const first = await mkdir(dir, { recursive: true, mode: 0o700 });
  if (first === undefined) return [];
  const made: string[] = [];
  for (let current = dir; ; current = dirname(current)) {
    made.unshift(current);
    if (current === first || dirname(current) === current) return made;
  }
}

export interface RegisterOptions {
  deviceId: string;
  certPath: string;
  configFile: string;
  /** The config file's text once the broker's url is known. */
  configText(url: string): string;
  apiUrl: string;
  token: string;
  /** The broker session's settings beyond url, client id and certificates. */
  connection: Omit<ConnectionSettings, 'url' | 'clientId' | 'certPath'>;
  /** The device's base topic. */
  base: string;
  connectTimeoutMs?: number;
  log: Logger;
  progress(line: string): void;
}

export interface Registered {
  url: string;
  files: string[];
  /** What B/register said. */
  message: RegisterPayload;
}

/** Raised once the files are in place but the register message could not be sent. */
export class RegisterMessageError extends FailedError {}

/**
 * The whole -register after the login. Nothing is written until the cloud has answered both
 * requests; then key, certificate and config file are staged beside their places and moved in
 * together, so a failure leaves the previous ones (or none) untouched.
 */
export async function registerDevice(options: RegisterOptions): Promise<Registered> {
  const id = checkDeviceId(options.deviceId);
  const certPath = checkCertPath(options.certPath);
  const configFile = resolve(options.configFile);
  await checkWritable(certPath);
  await checkWritable(dirname(configFile));

  const key = generateDeviceKey();
  const csr = buildCsr(key, id);
  const api = { apiUrl: options.apiUrl, token: options.token };
  options.progress(`Asking ${options.apiUrl} for the certificate of ${id}...`);
  const certificate = await requestCertificate(api, id, csr, key);
  const url = await requestBrokerUrl(api);
  options.progress(`Certificate received; the broker is ${url}.`);

  const made = [...(await makeFolder(certPath)), ...(await makeFolder(dirname(configFile)))];
  const staged: StagedFile[] = [];
  try {
    staged.push(await stageFile(join(certPath, DEVICE_KEY_FILE), deviceKeyPem(key), { mode: 0o600 }));
    staged.push(await stageFile(join(certPath, DEVICE_CERT_FILE), certificate, { mode: 0o644 }));
    staged.push(await stageFile(configFile, options.configText(url), { mode: 0o600 }));
  } catch (err) {
    await Promise.all(staged.map((file) => file.discard()));
    for (const dir of made.reverse()) await rmdir(dir).catch(() => {});
    throw new FailedError(`nothing was written: ${errorMessage(err)}`);
  }
  for (const [index, file] of staged.entries()) {
    try {
      await file.commit();
    } catch (err) {
      await Promise.all(staged.slice(index).map((rest) => rest.discard()));
      const done = staged.slice(0, index).map((f) => f.path);
      throw new FailedError(`${file.path} could not be moved in place (${errorMessage(err)})${done.length ? `; already replaced: ${done.join(', ')}` : ''}`);
    }
  }
  const files = staged.map((file) => file.path);
  options.progress(`Written: ${files.join(', ')}`);

  try {
    const message = await sendRegisterMessage({
      connection: { ...options.connection, url, clientId: id, certPath },
      base: options.base,
      timeoutMs: options.connectTimeoutMs,
      log: options.log,
    });
    return { url, files, message };
  } catch (err) {
    throw new RegisterMessageError(`the device is registered and its files are written, but B/register was not sent (-configure sends it again): ${errorMessage(err)}`);
  }
}

export interface ProvisionOptions {
  deviceId: string;
  certPath: string;
  progress(line: string): void;
}

/** A CSR for the key in cert_path, made (0600) when there is none yet. */
export async function provisionCsr(options: ProvisionOptions): Promise<string> {
  const id = checkDeviceId(options.deviceId);
  const certPath = checkCertPath(options.certPath);
  const keyFile = join(certPath, DEVICE_KEY_FILE);
  let key = await readDeviceKey(keyFile);
  if (!key) {
    key = generateDeviceKey();
    await makeFolder(certPath);
    await writeFileAtomic(keyFile, deviceKeyPem(key), { mode: 0o600 });
    options.progress(`New device key written to ${keyFile}`);
  }
  return buildCsr(key, id);
}

export interface ConfigureOptions {
  deviceId: string;
  connection: Omit<ConnectionSettings, 'clientId'>;
  base: string;
  connectTimeoutMs?: number;
  log: Logger;
}

/** -configure: B/register with the stored certificate. */
export async function configureDevice(options: ConfigureOptions): Promise<RegisterPayload> {
  const id = checkDeviceId(options.deviceId);
  if (options.connection.url === '') throw new ConfigError('no broker: set url in the config file, -url or URL');
  return sendRegisterMessage({ connection: { ...options.connection, clientId: id }, base: options.base, timeoutMs: options.connectTimeoutMs, log: options.log });
}
