// deploy's and sign's command lines and the private key check: refused before anything is signed,
// served or sent, with a message that says what to do.

import assert from 'node:assert/strict';
import { createVerify, generateKeyPairSync } from 'node:crypto';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { parseDeployArgs } from '../../src/cli/deploy.js';
import { parseSignArgs } from '../../src/cli/sign.js';
import { ensureLocalKeyPair, loadPrivateKey, signFile } from '../../src/cli/signing.js';
import { ConfigError } from '../../src/errors.js';
import { localLayout, localSettings } from '../../src/cli/local.js';
import { defaultSettings } from '../../src/settings.js';
import { tempDir } from '../helpers/tmp.js';

describe('deploy arguments', () => {
  it('takes the name from the file and the key from the data folder by default', () => {
    const options = parseDeployArgs(['build/hello', '--data', '/srv/ac']);
    assert.equal(options.file, 'build/hello');
    assert.equal(options.name, 'hello');
    assert.equal(options.id, undefined);
    assert.equal(options.keyPath, '/srv/ac/signing-key.pem');
    assert.equal(options.timeoutMs, 120_000);
    assert.equal(parseDeployArgs(['hello']).keyPath, resolve('arduino-connector-data/signing-key.pem'));
    const named = parseDeployArgs(['hello', '--name', 'counter', '--id', 'c1', '--key', 'k.pem', '--timeout', '5']);
    assert.deepEqual([named.name, named.id, named.keyPath, named.timeoutMs], ['counter', 'c1', 'k.pem', 5000]);
  });

  it('refuses a missing or second file, unknown flags and agent settings', () => {
    assert.throws(() => parseDeployArgs([]), { name: 'ConfigError', message: /^usage: arduino-connector deploy FILE/ });
    assert.throws(() => parseDeployArgs(['a', 'b']), /usage: arduino-connector deploy FILE/);
    assert.throws(() => parseDeployArgs(['a', '--frobnicate']), /unknown flag --frobnicate/);
    assert.throws(() => parseDeployArgs(['a', '-url', 'mqtt://x']), /deploy: unknown flag -url/);
    assert.throws(() => parseDeployArgs(['a', '--name']), /flag --name needs a value/);
  });

  it('refuses a name or id the agent would refuse, and a bad time-out', () => {
    assert.throws(() => parseDeployArgs(['a', '--name', '../escape']), (err: Error) => err instanceof ConfigError && /^deploy: --name/.test(err.message));
    assert.throws(() => parseDeployArgs(['a', '--id', 'x/y']), /deploy: --id/);
    assert.throws(() => parseDeployArgs(['a', '--name', '']), /deploy: --name is empty/);
    assert.throws(() => parseDeployArgs(['a', '--timeout', '0']), /--timeout: expected a positive number/);
    assert.throws(() => parseDeployArgs(['a', '--timeout', 'soon']), /--timeout: expected a positive number/);
  });
});

describe('sign arguments', () => {
  it('needs a file and --key, and writes FILE.sig unless --out says otherwise', () => {
    assert.deepEqual(parseSignArgs(['prog', '--key', 'k.pem']), { file: 'prog', keyPath: 'k.pem', out: 'prog.sig' });
    assert.equal(parseSignArgs(['prog', '--key', 'k.pem', '--out', 'x.sig']).out, 'x.sig');
    assert.throws(() => parseSignArgs(['prog']), /sign: --key KEY is required/);
    assert.throws(() => parseSignArgs(['--key', 'k.pem']), /usage: arduino-connector sign FILE --key KEY/);
    assert.throws(() => parseSignArgs(['a', 'b', '--key', 'k']), /usage:/);
    assert.throws(() => parseSignArgs(['a', '--key', 'k', '-id', 'x']), /sign: unknown flag -id/);
  });
});

describe('private keys', () => {
  it('signs with an RSA key in PEM or DER, verifiable with its public half', async () => {
    const dir = await tempDir('ac-keys-');
    try {
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const pem = join(dir.path, 'key.pem');
      const der = join(dir.path, 'key.der');
      await writeFile(pem, privateKey.export({ type: 'pkcs1', format: 'pem' }));
      await writeFile(der, privateKey.export({ type: 'pkcs8', format: 'der' }));
      const file = join(dir.path, 'program');
      await writeFile(file, 'a program\n');
      for (const path of [pem, der]) {
        const signature = await signFile(file, await loadPrivateKey(path));
        assert.equal(signature.length, 256);
        assert.ok(createVerify('sha256').update(await readFile(file)).verify(publicKey, signature), path);
      }
    } finally {
      await dir.remove();
    }
  });

  it('refuses a missing file, a public key, an EC key and an encrypted key, never quoting them', async () => {
    const dir = await tempDir('ac-keys-');
    try {
      const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const write = async (name: string, text: string) => {
        await writeFile(join(dir.path, name), text);
        return join(dir.path, name);
      };
      const pub = await write('pub.pem', rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string);
      const ecKey = await write('ec.pem', ec.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
      const encrypted = await write('enc.pem', rsa.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' }) as string);
      await assert.rejects(loadPrivateKey(join(dir.path, 'absent.pem')), /cannot read the key .*absent\.pem: no such file/);
      await assert.rejects(loadPrivateKey(pub), /pub\.pem is a public key: signing needs the private key/);
      await assert.rejects(loadPrivateKey(ecKey), /ec\.pem is a private ec key; sketches are signed with RSA/);
      await assert.rejects(loadPrivateKey(encrypted), /enc\.pem is an encrypted private key/);
      for (const path of [pub, ecKey, encrypted]) {
        await assert.rejects(loadPrivateKey(path), (err: Error) => !err.message.includes('BEGIN'));
      }
    } finally {
      await dir.remove();
    }
  });

  it('heals a missing public half from the private key, and tightens a loose private key mode', async () => {
    const dir = await tempDir('ac-keys-');
    try {
      const first = await ensureLocalKeyPair(dir.path);
      assert.equal(first.created, true);
      const publicPem = await readFile(first.publicKeyPath, 'utf8');
      await writeFile(first.publicKeyPath, '');
      await chmod(first.privateKeyPath, 0o644);
      const again = await ensureLocalKeyPair(dir.path);
      assert.equal(again.created, false);
      assert.equal(await readFile(again.publicKeyPath, 'utf8'), publicPem);
      assert.equal((await stat(again.privateKeyPath)).mode & 0o777, 0o600);
      await writeFile(first.privateKeyPath, 'broken');
      await assert.rejects(ensureLocalKeyPair(dir.path), /signing-key\.pem is not a private RSA key.*move it away/);
      assert.equal(await readFile(first.privateKeyPath, 'utf8'), 'broken', 'a broken key is left for the user, not replaced');
    } finally {
      await dir.remove();
    }
  });
});

describe('local mode\'s signature_key', () => {
  it('is the data folder\'s public key, unless the user set one: then theirs, and no pair is made', async () => {
    const dir = await tempDir('ac-local-key-');
    try {
      const own = localLayout(join(dir.path, 'own'));
      const made = await localSettings(defaultSettings(), own, 'mqtt://127.0.0.1:1');
      assert.equal(made.signature_key, join(own.dataDir, 'signing-key.pub.pem'));
      assert.equal((await stat(join(own.dataDir, 'signing-key.pem'))).mode & 0o777, 0o600);

      const theirs = localLayout(join(dir.path, 'theirs'));
      const kept = await localSettings({ ...defaultSettings(), signature_key: '/etc/arduino-connector/publisher.pem' }, theirs, 'mqtt://127.0.0.1:1');
      assert.equal(kept.signature_key, '/etc/arduino-connector/publisher.pem');
      await assert.rejects(stat(join(theirs.dataDir, 'signing-key.pem')), { code: 'ENOENT' });
    } finally {
      await dir.remove();
    }
  });
});
