// `arduino-connector sign FILE --key KEY`: writes FILE.sig, the raw RSA PKCS#1 v1.5 / SHA-256
// signature the agent fetches beside a sketch, for devices whose signature_key is KEY's public half.

import { stat } from 'node:fs/promises';
import { ConfigError } from '../errors.js';
import { writeFileAtomic } from '../lib/atomic-file.js';
import { signUsage } from './command-usage.js';
import { parseArgs, type FlagDefinition } from './options.js';
import { loadPrivateKey, signFile } from './signing.js';


const signFlags: FlagDefinition[] = [
  { name: 'key', takesValue: true, help: 'private RSA key (PEM or PKCS#8 DER)' },
  { name: 'out', takesValue: true, help: 'where the signature goes (default FILE.sig)' },
];

export interface SignOptions {
  file: string;
  keyPath: string;
  out: string;
}

export function parseSignArgs(argv: string[]): SignOptions {
  const args = parseArgs(argv, signFlags);
  const stray = Object.keys(args.settings)[0];
  if (stray !== undefined) throw new ConfigError(`sign: unknown flag -${stray} (usage: ${signUsage})`);
  const [file, extra] = args.positionals;
  if (file === undefined || extra !== undefined) throw new ConfigError(`usage: ${signUsage}`);
  const { key, out } = args.flags;
  if (typeof key !== 'string' || key === '') throw new ConfigError(`sign: --key KEY is required (usage: ${signUsage})`);
  if (out !== undefined && (typeof out !== 'string' || out === '')) throw new ConfigError('sign: --out needs a file name');
  return { file, keyPath: key, out: typeof out === 'string' ? out : `${file}.sig` };
}

export async function runSign(argv: string[]): Promise<number> {
  const options = parseSignArgs(argv);
  const info = await stat(options.file).catch((err: NodeJS.ErrnoException) => {
    throw new ConfigError(`sign: cannot read ${options.file}: ${err.code === 'ENOENT' ? 'no such file' : (err.code ?? err.message)}`);
  });
  if (!info.isFile()) throw new ConfigError(`sign: ${options.file} is not a file`);
  const key = await loadPrivateKey(options.keyPath);
  const signature = await signFile(options.file, key);
  // Atomic: a device fetching the old .sig meanwhile gets a whole one, never half of the new.
  await writeFileAtomic(options.out, signature, { mode: 0o644 });
  process.stdout.write(`${options.out}: ${signature.length}-byte signature (RSA-${(key.asymmetricKeyDetails?.modulusLength ?? signature.length * 8)}, SHA-256) of ${options.file} (${info.size} bytes)\n`);
  return 0;
}
