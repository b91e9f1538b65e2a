// The public key that signs sketches (and agent updates) comes from one setting that is either
// the PEM text itself or the path of a PEM file; a config file cannot hold newlines, so PEM text
// may carry them as the two characters "\n".

import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../errors.js';
import { errorMessage } from '../log.js';

const pemMarker = '-----BEGIN';

/** PEM text (newlines may be written as the two characters \ n) or a path to a PEM file. */
export async function loadSignatureKey(setting: string): Promise<KeyObject> {
  const value = setting.trim();
  if (value === '') throw new ConfigError('signature_key is empty: sketches cannot be verified without a public key');
  let pem: string;
  let source: string;
  if (value.includes(pemMarker)) {
    pem = value.replace(/\\n/g, '\n');
    source = 'signature_key';
  } else {
    source = `signature_key file ${value}`;
    try {
      pem = await readFile(value, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read ${source}: ${errorMessage(err)}`);
    }
    if (!pem.includes(pemMarker)) throw new ConfigError(`${source} holds no PEM block`);
  }
  let key: KeyObject;
  try {
    // Accepts SPKI public keys, PKCS#1 RSA public keys and X.509 certificates.
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new ConfigError(`${source} is not a usable public key: ${errorMessage(err)}`);
  }
  if (key.asymmetricKeyType !== 'rsa') {
    throw new ConfigError(`${source} is a ${key.asymmetricKeyType ?? 'unknown'} key; sketches are signed with RSA`);
  }
  return key;
}
