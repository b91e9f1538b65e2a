// Local signing as a user meets it: local mode started as the real program (its embedded broker)
// makes and keeps its key pair; `deploy` runs a real executable there and is its terminal; `sign`
// makes a .sig a real agent accepts from a real HTTP server; a key the agent does not hold is
// refused with the agent's ERROR text.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createPublicKey, createPrivateKey } from 'node:crypto';
import { appendFile, chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import { startHttpServer, type TestHttpServer } from '../helpers/http-server.js';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { runProcess, type Exit } from '../helpers/process.js';
import { makeKeyPair, type TestKeyPair } from '../helpers/signing.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const main = join(root, 'src/cli/main.ts');
const env = () => ({ PATH: process.env.PATH, HOME: process.env.HOME });

/** The program with its stdin open, as a user's terminal would hold it. */
function startCli(args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', main, ...args], { cwd: root, env: env(), stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<Exit>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  return { child, stdout: () => out, stderr: () => err, exit };
}

function runCli(args: string[]) {
  return runProcess(process.execPath, ['--import', 'tsx', main, ...args], { cwd: root, env: env() });
}

const script = `#!/bin/sh
echo "hello from the sketch"
n=0
while read line; do n=$((n+1)); echo "line $n: $line"; [ "$line" = bye ] && exit 3; done
`;

async function writeProgram(dir: string, name = 'hello'): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, script);
  await chmod(path, 0o755);
  return path;
}

describe('local mode signing and deploy', () => {
  let dir: { path: string; remove(): Promise<void> };
  before(async () => {
    dir = await tempDir('ac-deploy-');
  });
  after(async () => {
    await dir?.remove();
  });

  it('makes a key pair on first start (private 0600), reuses it, and deploy runs a program there as its terminal', async () => {
    const data = join(dir.path, 'data');
    const privatePath = join(data, 'signing-key.pem');
    const publicPath = join(data, 'signing-key.pub.pem');
    const first = startCli(['local', '--data', data, '--mqtt-port', '0', '--ws-port', '0']);
    try {
      await waitFor(() => /running in local mode/.test(first.stdout()), 'the banner', 30_000);
      assert.equal((await stat(privatePath)).mode & 0o777, 0o600);
      const privatePem = await readFile(privatePath, 'utf8');
      const publicPem = await readFile(publicPath, 'utf8');
      const key = createPrivateKey(privatePem);
      assert.equal(key.asymmetricKeyType, 'rsa');
      assert.equal(key.asymmetricKeyDetails?.modulusLength, 3072);
      assert.equal(createPublicKey(key).export({ type: 'spki', format: 'pem' }), publicPem);
      assert.ok(!first.stdout().includes('PRIVATE KEY') && !first.stderr().includes('PRIVATE KEY'));
      first.child.kill('SIGINT');
      assert.equal((await first.exit).code, 0);
    } finally {
      first.child.kill('SIGKILL');
    }

    const before = await readFile(privatePath, 'utf8');
    const second = startCli(['local', '--data', data, '--mqtt-port', '0', '--ws-port', '0']);
    try {
      await waitFor(() => /running in local mode/.test(second.stdout()), 'the second banner', 30_000);
      assert.equal(await readFile(privatePath, 'utf8'), before, 'the key pair is reused');
      assert.equal((await stat(privatePath)).mode & 0o777, 0o600);

      const program = await writeProgram(dir.path);
      const deploy = startCli(['deploy', program, '--name', 'hello', '--data', data]);
      try {
        await waitFor(() => /Sketch started with PID \d+/.test(deploy.stderr()), 'the upload answer', 30_000);
        await waitFor(() => deploy.stdout().includes('hello from the sketch'), 'the program output on deploy stdout', 20_000);
        deploy.child.stdin.write('typed to the program\n');
        await waitFor(() => deploy.stdout().includes('line 1: typed to the program'), 'typed input reaching the program', 20_000);
        deploy.child.kill('SIGINT');
        assert.deepEqual(await deploy.exit, { code: 0, signal: null });
      } finally {
        deploy.child.kill('SIGKILL');
      }

      // Ctrl-C ended the following, not the program.
      const status = await runCli(['call', 'status', '--data', data]);
      assert.equal(status.code, 0);
      assert.equal(JSON.parse(status.stdout).sketches.hello.status, 'RUNNING');
    } finally {
      second.child.kill('SIGINT');
      await second.exit;
    }
  });
});

describe('sign and deploy against an agent with a key of its own', () => {
  let broker: Broker;
  let dir: { path: string; remove(): Promise<void> };
  let keys: TestKeyPair;
  let other: TestKeyPair;
  let agent: TestAgent;
  let http: TestHttpServer;

  before(async () => {
    broker = await startMosquitto();
    dir = await tempDir('ac-sign-');
    keys = await makeKeyPair(dir.path, { name: 'device' });
    other = await makeKeyPair(dir.path, { name: 'other' });
    agent = await startTestAgent(broker.url, { signature_key: keys.publicKeyPath });
    http = await startHttpServer({ folder: dir.path });
  });
  after(async () => {
    await http?.close();
    await agent?.stop();
    await broker?.close();
    await dir?.remove();
  });

  it('sign writes a .sig the agent accepts, and a tampered file is refused', async () => {
    const program = await writeProgram(dir.path, 'signed');
    const signed = await runCli(['sign', program, '--key', keys.privateKeyPath]);
    assert.equal(signed.code, 0, signed.stderr);
    assert.match(signed.stdout, /signed\.sig: 256-byte signature \(RSA-2048, SHA-256\)/);
    assert.equal((await stat(`${program}.sig`)).size, 256, 'raw signature bytes of the 2048-bit test key');

    const ok = await agent.client.call('upload', { url: http.url('/signed'), name: 'signed', id: 'signed' });
    assert.equal(ok.ok, true, ok.ok ? '' : ok.message);

    await appendFile(program, 'echo tampered\n');
    const refused = await agent.client.call('upload', { url: http.url('/signed'), name: 'signed', id: 'signed' });
    assert.equal(refused.ok, false);
    assert.match(refused.ok ? '' : refused.message, /signature check failed/);
  });

  it('sign refuses a public key and a file that is no key, naming the file and never printing it', async () => {
    const program = await writeProgram(dir.path, 'unsigned');
    const pub = await runCli(['sign', program, '--key', keys.publicKeyPath]);
    assert.equal(pub.code, 2);
    assert.match(pub.stderr, /is a public key: signing needs the private key/);
    assert.ok(!pub.stderr.includes('BEGIN'), 'the key is not printed');
    const garbage = join(dir.path, 'garbage.pem');
    await writeFile(garbage, 'not a key at all\n');
    const bad = await runCli(['sign', program, '--key', garbage]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /garbage\.pem is not a private RSA key/);
    assert.ok(!bad.stderr.includes('not a key at all'));
    await assert.rejects(stat(`${program}.sig`), { code: 'ENOENT' });
  });

  it('deploy with the agent\'s key runs the program; with another key it exits 1 with the ERROR text', async () => {
    const program = await writeProgram(dir.path, 'greeter');
    const target = ['--broker', broker.url, '--device', agent.settings.id];
    const refused = await runCli(['deploy', program, ...target, '--key', other.privateKeyPath]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^ERROR: .*signature check failed: the file does not match its signature/m);

    const deploy = startCli(['deploy', program, ...target, '--key', keys.privateKeyPath, '--id', 'greeter-1']);
    try {
      await waitFor(() => deploy.stdout().includes('hello from the sketch'), 'the program output', 30_000);
      deploy.child.stdin.write('over mqtt 5\n');
      await waitFor(() => deploy.stdout().includes('line 1: over mqtt 5'), 'typed input reaching the program', 20_000);
      deploy.child.stdin.write('bye\n');
      await waitFor(() => deploy.stderr().includes('greeter ended (exit code 3); Ctrl-C stops following'), 'the end of the program told', 20_000);
      deploy.child.kill('SIGINT');
      assert.deepEqual(await deploy.exit, { code: 0, signal: null });
    } finally {
      deploy.child.kill('SIGKILL');
    }
    const status = await agent.client.call('status', {});
    assert.ok(status.ok);
    assert.equal(JSON.parse(status.body).sketches['greeter-1'].name, 'greeter');
  });
});
