import assert from 'node:assert/strict';
import { createSign, createVerify, type KeyObject } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError } from '../../src/errors.js';
import { loadSignatureKey } from '../../src/sketches/signature.js';
import { makeKeyPair, openssl, type TestKeyPair } from '../helpers/signing.js';
import { tempDir } from '../helpers/tmp.js';

describe('loadSignatureKey', () => {
  let dir: { path: string; remove(): Promise<void> };
  let keys: TestKeyPair;

  before(async () => {
    dir = await tempDir('ac-sigkey-');
    keys = await makeKeyPair(dir.path);
  });
  after(() => dir.remove());

  /** The loaded key must verify what the matching private key signed. */
  const assertVerifies = async (key: KeyObject) => {
    const data = Buffer.from('sketch bytes');
    const signer = createSign('sha256');
    signer.update(data);
    const signature = signer.sign(await readFile(keys.privateKeyPath, 'utf8'));
    const verifier = createVerify('sha256');
    verifier.update(data);
    assert.equal(verifier.verify(key, signature), true);
  };

  it('reads PEM text', async () => {
    const key = await loadSignatureKey(keys.publicKeyPem);
    assert.equal(key.asymmetricKeyType, 'rsa');
    await assertVerifies(key);
  });

  it('reads PEM text whose newlines are written as \\n (config file form)', async () => {
    const oneLine = keys.publicKeyPem.trim().split('\n').join('\\n');
    assert.ok(!oneLine.includes('\n'));
    await assertVerifies(await loadSignatureKey(oneLine));
  });

  it('reads a PEM file given by path', async () => {
    await assertVerifies(await loadSignatureKey(keys.publicKeyPath));
  });

  it('accepts an X.509 certificate holding the RSA key', async () => {
    const cert = join(dir.path, 'cert.pem');
    await openssl(['req', '-x509', '-new', '-key', keys.privateKeyPath, '-subj', '/CN=sketch signer', '-days', '1', '-out', cert]);
    await assertVerifies(await loadSignatureKey(cert));
  });

  it('refuses an empty setting', async () => {
    await assert.rejects(loadSignatureKey('  '), (err: Error) => err instanceof ConfigError && /empty/.test(err.message));
  });

  it('refuses a missing file, naming it', async () => {
    const missing = join(dir.path, 'nope.pem');
    await assert.rejects(loadSignatureKey(missing), (err: Error) => err instanceof ConfigError && err.message.includes(missing));
  });

  it('refuses a file without a PEM block', async () => {
    const junk = join(dir.path, 'junk.pem');
    await writeFile(junk, 'not a key\n');
    await assert.rejects(loadSignatureKey(junk), (err: Error) => err instanceof ConfigError && /no PEM/.test(err.message));
  });

  it('refuses a damaged PEM block', async () => {
    const damaged = keys.publicKeyPem.replace(/[A-Za-z0-9+/]{20}/, '!!!!');
    await assert.rejects(loadSignatureKey(damaged), (err: Error) => err instanceof ConfigError && /not a usable public key/.test(err.message));
  });

  it('refuses a key that is not RSA', async () => {
    const ecPrivate = join(dir.path, 'ec.pem');
    const ecPublic = join(dir.path, 'ec-public.pem');
    await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', ecPrivate]);
    await openssl(['ec', '-in', ecPrivate, '-pubout', '-out', ecPublic]);
    await assert.rejects(loadSignatureKey(ecPublic), (err: Error) => err instanceof ConfigError && /ec key/.test(err.message));
  });
});
