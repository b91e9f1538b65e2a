// The publisher's side of sketch signatures: a private RSA key read from a file, and a file signed
// with it the way the agent checks (RSA PKCS#1 v1.5 over SHA-256, the raw signature bytes in
// `<file>.sig`, see src/sketches/download.ts). Local mode's own key pair is made here too.

import { createPrivateKey, createPublicKey, createSign, generateKeyPair, type KeyObject } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ConfigError } from '../errors.js';
import { writeFileAtomic } from '../lib/atomic-file.js';

/** 3072 bits: NIST SP 800-57's size for keys meant to outlive 2030 (128-bit strength); a sketch is
 * signed once per deploy and verified once per upload, so the cost over 2048 bits does not show. */
export const LOCAL_KEY_BITS = 3072;

/** The private key in `path`, refused with a message naming the file (never its content) unless
 * it is an unencrypted private RSA key in PEM or DER. */
export async function loadPrivateKey(path: string): Promise<KeyObject> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(`cannot read the key ${path}: ${code === 'ENOENT' ? 'no such file' : (code ?? 'unreadable')}`);
  }
  const pem = data.includes('-----BEGIN');
  let key: KeyObject;
  try {
    key = pem ? createPrivateKey({ key: data, format: 'pem' }) : createPrivateKey({ key: data, format: 'der', type: 'pkcs8' });
  } catch (err) {
    // Node 20 reports a missing passphrase as "interrupted or cancelled": the PEM headers tell.
    const encrypted = (err as { code?: string }).code === 'ERR_MISSING_PASSPHRASE' || (pem && /ENCRYPTED/.test(data.toString('latin1')));
    if (encrypted) {
      throw new ConfigError(`${path} is an encrypted private key; write an unencrypted copy (openssl pkey -in KEY -out PLAIN) and keep it 0600`);
    }
    if (pem && isPublicKey(data)) throw new ConfigError(`${path} is a public key: signing needs the private key`);
    throw new ConfigError(`${path} is not a private RSA key (PEM or PKCS#8 DER expected)`);
  } finally {
    data.fill(0);
  }
  if (key.asymmetricKeyType !== 'rsa') {
    throw new ConfigError(`${path} is a private ${key.asymmetricKeyType ?? 'unknown'} key; sketches are signed with RSA`);
  }
  return key;
}

function isPublicKey(pem: Buffer): boolean {
  try {
    createPublicKey({ key: pem, format: 'pem' });
    return true;
  } catch {
    return false;
  }
}

/** The signature of the file's bytes, read as a stream (a sketch can be hundreds of MiB). */
export async function signFile(path: string, key: KeyObject): Promise<Buffer> {
  const signer = createSign('sha256');
  try {
    for await (const chunk of createReadStream(path)) signer.update(chunk as Buffer);
  } catch (err) {
    throw new ConfigError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return signer.sign(key);
}

export interface LocalKeyPair {
  privateKeyPath: string;
  publicKeyPath: string;
  /** True when this call made the pair. */
  created: boolean;
}

export function localKeyPaths(dataDir: string): { privateKeyPath: string; publicKeyPath: string } {
  return { privateKeyPath: join(dataDir, 'signing-key.pem'), publicKeyPath: join(dataDir, 'signing-key.pub.pem') };
}

/** Local mode's key pair in `dataDir`: made on the first start, reused after. The private key is
 * the one source of truth; the public half is written again from it whenever it is missing or
 * differs, so a kill between the two writes heals at the next start. */
export async function ensureLocalKeyPair(dataDir: string): Promise<LocalKeyPair> {
  const { privateKeyPath, publicKeyPath } = localKeyPaths(dataDir);
  let created = false;
  let privateKey: KeyObject;
  const existing = await stat(privateKeyPath).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (existing) {
    // Kept: a key that deployed sketches must not be replaced behind the user's back.
    privateKey = await loadPrivateKey(privateKeyPath).catch((err: Error) => {
      throw new ConfigError(`${err.message}; move it away to have local mode make a new key pair`);
    });
    if ((existing.mode & 0o077) !== 0) await chmod(privateKeyPath, 0o600);
  } else {
    const pair = await promisify(generateKeyPair)('rsa', { modulusLength: LOCAL_KEY_BITS, publicExponent: 0x10001 });
    privateKey = pair.privateKey;
    await writeFileAtomic(privateKeyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
    created = true;
  }
  const publicPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }) as string;
  const stored = await readFile(publicKeyPath, 'utf8').catch(() => '');
  if (stored !== publicPem) await writeFileAtomic(publicKeyPath, publicPem, { mode: 0o644 });
  return { privateKeyPath, publicKeyPath, created };
}
