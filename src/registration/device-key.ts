// The device's private key: ECDSA on P-256, as the cloud's broker (AWS IoT) and the Go agent used.
// Kept as SEC1 PEM ("EC PRIVATE KEY"), the form the Go agent wrote, so either agent reads the
// other's certificate.key.

import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../errors.js';
import { errorMessage } from '../log.js';

export const DEVICE_KEY_FILE = 'certificate.key';
export const DEVICE_CERT_FILE = 'certificate.pem';

export function generateDeviceKey(): KeyObject {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
}

export function deviceKeyPem(key: KeyObject): string {
  return key.export({ type: 'sec1', format: 'pem' }).toString();
}

/** Parses a PEM private key and checks that it is ECDSA on P-256 (the only kind a CSR is made for). */
export function parseDeviceKey(text: string, source: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(text);
  } catch (err) {
    throw new ConfigError(`${source} is not a private key: ${errorMessage(err)}`);
  }
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType !== 'ec' || curve !== 'prime256v1') {
    throw new ConfigError(`${source} is a ${key.asymmetricKeyType ?? 'unknown'}${curve ? ` ${curve}` : ''} key; the device key must be ECDSA P-256`);
  }
  return key;
}

/** The key stored at `path`, or undefined when there is none. */
export async function readDeviceKey(path: string): Promise<KeyObject | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError(`cannot read the device key ${path}: ${errorMessage(err)}`);
  }
  return parseDeviceKey(text, path);
}
