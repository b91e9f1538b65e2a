// Test keys and signatures made by the real openssl command line, the way a sketch publisher
// would make them (arguments as argv, never through a shell).

import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestKeyPair {
  privateKeyPath: string;
  publicKeyPath: string;
  /** The public key as PEM text (what `signature_key` may hold). */
  publicKeyPem: string;
}

export async function openssl(args: string[]): Promise<string> {
  const { stdout } = await run('openssl', args, { encoding: 'utf8' });
  return stdout;
}

/** A fresh RSA key pair in `dir` (private.pem, public.pem), made with `openssl genrsa` / `openssl rsa -pubout`. */
export async function makeKeyPair(dir: string, options: { bits?: number; name?: string } = {}): Promise<TestKeyPair> {
  const name = options.name ?? 'signing';
  const privateKeyPath = join(dir, `${name}-private.pem`);
  const publicKeyPath = join(dir, `${name}-public.pem`);
  await openssl(['genrsa', '-out', privateKeyPath, String(options.bits ?? 2048)]);
  await openssl(['rsa', '-in', privateKeyPath, '-pubout', '-out', publicKeyPath]);
  return { privateKeyPath, publicKeyPath, publicKeyPem: await readFile(publicKeyPath, 'utf8') };
}

/** Signs `file` (RSA PKCS#1 v1.5 over SHA-256) into `sigPath` (default `<file>.sig`); returns sigPath. */
export async function signFile(privateKeyPath: string, file: string, sigPath = `${file}.sig`): Promise<string> {
  await openssl(['dgst', '-sha256', '-sign', privateKeyPath, '-out', sigPath, file]);
  return sigPath;
}
