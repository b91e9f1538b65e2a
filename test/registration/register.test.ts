// -login, -register, -provision and -configure through the real command line, against a local
// server playing the Arduino cloud (device authorisation, certificates signed by a test CA with
// openssl) and a real mosquitto that takes only certificates of that CA.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { hostname, networkInterfaces } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import mqtt from 'mqtt';
import { ConnectorClient } from '../../src/client.js';
import { startFakeCloud, type FakeCloud } from '../helpers/arduino-cloud.js';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { runProcess, startProcess } from '../helpers/process.js';
import { freePort } from '../helpers/net.js';
import { withoutParts } from '../helpers/status-body.js';
import { tempDir } from '../helpers/tmp.js';
import { makeTestPki, type TestPki } from '../helpers/tls.js';
import { waitFor } from '../helpers/wait.js';
import { VERSION } from '../../src/version.js';

const execFileAsync = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const main = join(root, 'src/cli/main.ts');
const env = { PATH: process.env.PATH, HOME: process.env.HOME };

function cli(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
  return runProcess(process.execPath, ['--import', 'tsx', main, ...args], { cwd: root, env: { ...env, ...extraEnv } });
}

async function openssl(args: string[], input?: string): Promise<string> {
  if (input === undefined) return (await execFileAsync('openssl', args)).stdout;
  return new Promise((resolveRun, reject) => {
    const child = execFile('openssl', args, (err, stdout) => (err ? reject(err) : resolveRun(stdout)));
    child.stdin?.end(input);
  });
}

/** Every file under `dir` (relative path → mode and content hash); {} when dir does not exist. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (current: string, prefix: string) => {
    let entries;
    try {
      entries = await readdir(current, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const entry of entries) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) {
        out[`${prefix}${entry.name}/`] = 'dir';
        await walk(path, `${prefix}${entry.name}/`);
      } else {
        const mode = ((await stat(path)).mode & 0o777).toString(8);
        out[prefix + entry.name] = `${mode} ${createHash('sha256').update(await readFile(path)).digest('hex')}`;
      }
    }
  };
  await walk(dir, '');
  return out;
}

const modeOf = async (path: string) => (await stat(path)).mode & 0o777;

/** The MAC addresses B/register must carry: every non-loopback interface's, once. */
function expectedMacs(): string[] {
  const macs = new Set<string>();
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (!a.internal && a.mac !== '00:00:00:00:00:00') macs.add(a.mac);
  }
  return [...macs];
}

/** Asserts a failed run: exit 1 and exactly one line on stderr that matches every pattern. */
function assertOneLineFailure(result: { code: number | null; stderr: string }, ...patterns: RegExp[]): void {
  assert.equal(result.code, 1, result.stderr);
  const lines = result.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line expected, got:\n${result.stderr}`);
  for (const pattern of patterns) assert.match(lines[0] ?? '', pattern);
}

describe('registration against the cloud API', () => {
  let dir: { path: string; remove(): Promise<void> };
  let pki: TestPki;
  let broker: Broker;
  let cloud: FakeCloud;
  /** A folder with the test client certificate, for watchers and `call`. */
  let clientCerts: string;
  const cloudFlags = () => ['-authurl', cloud.origin, '-apiurl', cloud.origin, '-auth_client_id', 'test-client'];

  before(async () => {
    dir = await tempDir('ac-register-');
    pki = await makeTestPki(dir.path);
    broker = await startMosquitto({ tls: { caFile: pki.caFile, certFile: pki.serverCert, keyFile: pki.serverKey, requireCertificate: true } });
    cloud = await startFakeCloud({ caFile: pki.caFile, caKey: join(pki.dir, 'ca.key') }, {
      polls: ['ok'],
      interval: 0.05,
      expiresIn: 60,
      brokerUrl: broker.url,
    });
    clientCerts = join(dir.path, 'client-certs');
    await mkdir(clientCerts);
    await copyFile(pki.clientCert, join(clientCerts, 'certificate.pem'));
    await copyFile(pki.clientKey, join(clientCerts, 'certificate.key'));
    await copyFile(pki.caFile, join(clientCerts, 'ca.pem'));
  });
  after(async () => {
    await cloud?.close();
    await broker?.close();
    await dir?.remove();
  });

  /** A device's folders: cert_path holding only the broker's CA (the cloud's broker has a public
   * one), the config file not written yet. */
  async function deviceFolders(name: string) {
    const base = join(dir.path, name);
    const certPath = join(base, 'certs');
    await mkdir(certPath, { recursive: true });
    await copyFile(pki.caFile, join(certPath, 'ca.pem'));
    return { base, certPath, configFile: join(base, 'etc', 'arduino-connector.cfg'), data: join(base, 'data') };
  }

  async function watchRegister(id: string) {
    const watcher = await mqtt.connectAsync(broker.url, {
      cert: await readFile(pki.clientCert), key: await readFile(pki.clientKey), ca: await readFile(pki.caFile), protocolVersion: 5,
    });
    const messages: string[] = [];
    watcher.on('message', (_topic, payload) => messages.push(payload.toString()));
    await watcher.subscribeAsync(`$aws/things/${id}/register`, { qos: 1 });
    return { messages, close: () => watcher.endAsync() };
  }

  it('-register: device login, key, CSR, certificate and broker, config written 0600, B/register sent; the agent then runs on them', async () => {
    cloud.script.polls = ['pending', 'pending', 'ok'];
    const id = 'device-e2e';
    const f = await deviceFolders('e2e');
    const watcher = await watchRegister(id);
    const before = cloud.requests.length;
    try {
      const r = await cli(['-register', '-config', f.configFile, '-id', id, '-cert_path', f.certPath, ...cloudFlags(),
        '-sketches_path', f.data, '-drop_folder', join(f.data, 'drop')]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout.includes(`open ${cloud.origin}/activate and enter the code ${cloud.userCode}`), r.stdout);
      assert.ok(r.stdout.includes(`${cloud.origin}/activate?user_code=${cloud.userCode}`), r.stdout);
      assert.match(r.stdout, /Setup completed\./);
      // The token is a secret: -register never shows it.
      assert.ok(!r.stdout.includes(cloud.accessToken) && !r.stderr.includes(cloud.accessToken));

      // The grant as RFC 8628 has it, polled until confirmed; the device API with the token.
      const seen = cloud.requests.slice(before);
      assert.deepEqual(seen.map((q) => q.path), ['/oauth/device/code', '/oauth/token', '/oauth/token', '/oauth/token', `/iot/v1/devices/${id}`, '/iot/v1/devices/connect']);
      const codeForm = new URLSearchParams(seen[0]?.body);
      assert.equal(codeForm.get('client_id'), 'test-client');
      assert.equal(seen[0]?.contentType, 'application/x-www-form-urlencoded');
      const pollForm = new URLSearchParams(seen[1]?.body);
      assert.equal(pollForm.get('grant_type'), 'urn:ietf:params:oauth:grant-type:device_code');
      assert.equal(pollForm.get('device_code'), cloud.deviceCode);
      assert.equal(seen[4]?.authorization, `Bearer ${cloud.accessToken}`);
      assert.equal(seen[5]?.authorization, `Bearer ${cloud.accessToken}`);

      // Key 0600, certificate from the test CA for CN = id and for that key, config 0600.
      const keyFile = join(f.certPath, 'certificate.key');
      const certFile = join(f.certPath, 'certificate.pem');
      assert.equal(await modeOf(keyFile), 0o600);
      assert.equal(await modeOf(f.configFile), 0o600);
      assert.match(await readFile(keyFile, 'utf8'), /^-----BEGIN EC PRIVATE KEY-----/);
      assert.match(await openssl(['ec', '-in', keyFile, '-noout', '-text']), /NIST CURVE: P-256/);
      assert.match(await openssl(['verify', '-CAfile', pki.caFile, certFile]), /: OK/);
      assert.match(await openssl(['x509', '-in', certFile, '-noout', '-subject', '-nameopt', 'RFC2253']), new RegExp(`subject=CN=${id}`));
      const certKey = await openssl(['x509', '-in', certFile, '-noout', '-pubkey']);
      const ownKey = await openssl(['pkey', '-in', keyFile, '-pubout']);
      assert.equal(certKey, ownKey);
      const config = await readFile(f.configFile, 'utf8');
      for (const line of [`id=${id}`, `url=${broker.url}`, `cert_path=${f.certPath}`, `sketches_path=${f.data}`, `apiurl=${cloud.origin}`]) {
        assert.ok(config.split('\n').includes(line), `${line} in\n${config}`);
      }
      assert.ok(!config.includes('token'));
      // No temporary file left beside them.
      assert.deepEqual((await readdir(f.certPath)).sort(), ['ca.pem', 'certificate.key', 'certificate.pem']);
      assert.deepEqual(await readdir(dirname(f.configFile)), ['arduino-connector.cfg']);

      // B/register, once, with the host name and the MAC addresses.
      await waitFor(() => watcher.messages.length > 0, 'B/register');
      assert.equal(watcher.messages.length, 1);
      assert.deepEqual(JSON.parse(watcher.messages[0] ?? ''), { Host: hostname(), MACs: expectedMacs() });
    } finally {
      await watcher.close();
    }

    // The agent runs from that config file alone, connects with the issued certificate, answers.
    const agent = startProcess(process.execPath, ['--import', 'tsx', main, '-config', f.configFile], { cwd: root, env });
    try {
      await waitFor(() => /connected to/.test(agent.stderr()), 'the agent to connect with its certificate', 20_000);
      const client = await ConnectorClient.connect({ broker: broker.url, deviceId: id, certPath: clientCerts });
      try {
        const reply = await waitFor(async () => {
          const r = await client.call('status', {}, 1000);
          return r.ok ? r : undefined;
        }, 'status');
        assert.deepEqual(withoutParts(reply.body), { sketches: {}, version: VERSION });
      } finally {
        await client.close();
      }
    } finally {
      agent.child.kill('SIGTERM');
      await agent.exit;
    }

    // -configure sends B/register again with the stored certificate.
    const again = await watchRegister(id);
    try {
      const r = await cli(['-configure', '-config', f.configFile]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /Register message sent/);
      await waitFor(() => again.messages.length > 0, 'B/register from -configure');
      assert.deepEqual(JSON.parse(again.messages[0] ?? ''), { Host: hostname(), MACs: expectedMacs() });
    } finally {
      await again.close();
    }
  });

  it('-login: the prompt on stderr, the token alone on stdout; slow_down adds 5 s to the interval', async () => {
    cloud.script.polls = ['slow_down', 'ok'];
    const before = cloud.requests.length;
    const r = await cli(['-login', ...cloudFlags()]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${cloud.accessToken}\n`);
    assert.ok(r.stderr.includes(`open ${cloud.origin}/activate and enter the code ${cloud.userCode}`), r.stderr);
    assert.match(r.stderr, /every 5\.05 s now/);
    const polls = cloud.requests.slice(before).filter((q) => q.path === '/oauth/token');
    assert.equal(polls.length, 2);
    // A lower bound only: the client waited at least the widened interval before polling again.
    assert.ok((polls[1]?.at ?? 0) - (polls[0]?.at ?? 0) >= 5000, 'the second poll came after the widened interval');
  });

  it('-login refused by the user: one line with the status and the server\'s words, no token', async () => {
    cloud.script.polls = ['pending', 'denied'];
    const r = await cli(['-login', ...cloudFlags()]);
    // -login's prompt is on stderr too (its stdout is the token); the failure is the one line after it.
    const prompt = /^(To log in, open |  \(or open |Waiting for the confirmation)/;
    assertOneLineFailure({ code: r.code, stderr: r.stderr.split('\n').filter((line) => !prompt.test(line)).join('\n') }, /^arduino-connector -login: the login was refused: POST .*\/oauth\/token: HTTP 400 Bad Request: access_denied: the user refused the device$/);
    assert.equal(r.stdout, '');
  });

  it('-register with an expired code, or a refused device code request, writes nothing', async () => {
    for (const [name, setup, patterns] of [
      ['expired', () => void (cloud.script.polls = ['pending', 'expired']),
        [/the code expired before it was confirmed/, /HTTP 400 Bad Request: expired_token: the device code has expired$/]],
      ['no-code', () => void (cloud.script.refuseDeviceCode = { status: 401, body: { error: 'invalid_client', error_description: 'unknown client test-client' } }),
        [/the login could not start: POST .*\/oauth\/device\/code: HTTP 401 Unauthorized: invalid_client: unknown client test-client$/]],
    ] as const) {
      setup();
      try {
        const f = await deviceFolders(name);
        const initial = await snapshot(f.base);
        // A cert_path that does not exist yet: a failed run does not leave it made either.
        const certPath = join(f.base, 'new-certs');
        const r = await cli(['-register', '-config', f.configFile, '-id', `device-${name}`, '-cert_path', certPath, ...cloudFlags()]);
        assertOneLineFailure(r, ...patterns);
        assert.deepEqual(await snapshot(f.base), initial);
      } finally {
        cloud.script.refuseDeviceCode = undefined;
      }
    }
  });

  it('a refused CSR or a failing connect endpoint leaves a working registration untouched', async () => {
    cloud.script.polls = ['ok'];
    const id = 'device-kept';
    const f = await deviceFolders('kept');
    const first = await cli(['-register', '-config', f.configFile, '-id', id, '-cert_path', f.certPath, ...cloudFlags(), '-sketches_path', f.data]);
    assert.equal(first.code, 0, first.stderr);
    const working = await snapshot(f.base);
    assert.ok(working['certs/certificate.key'] && working['certs/certificate.pem'] && working['etc/arduino-connector.cfg']);

    const failures = [
      // The server's error text quotes the token: it is shown as *** (-token is a secret).
      { refusal: () => void (cloud.script.refuseCsr = { status: 400, body: { message: `CSR refused for token ${cloud.accessToken}: device ${id} is locked` } }),
        patterns: [new RegExp(`^arduino-connector -register: POST ${cloud.origin}/iot/v1/devices/${id}: HTTP 400 Bad Request: CSR refused for token \\*\\*\\*: device ${id} is locked$`)] },
      { refusal: () => void (cloud.script.refuseConnect = { status: 503, body: 'broker directory unavailable' }),
        patterns: [new RegExp(`^arduino-connector -register: POST ${cloud.origin}/iot/v1/devices/connect: HTTP 503 Service Unavailable: broker directory unavailable$`)] },
      { refusal: () => void (cloud.script.refuseConnect = { status: 200, body: { address: 'elsewhere' } }),
        patterns: [/devices\/connect: HTTP 200 OK: expected \{"url": "…"\}, got a JSON object without "url"$/] },
    ];
    for (const { refusal, patterns } of failures) {
      refusal();
      try {
        // -token (here from the environment) skips the device login.
        const r = await cli(['-register', '-config', f.configFile, '-id', id, '-cert_path', f.certPath, ...cloudFlags()], { TOKEN: cloud.accessToken });
        assertOneLineFailure(r, ...patterns);
        assert.ok(!r.stderr.includes(cloud.accessToken));
        assert.deepEqual(await snapshot(f.base), working);
      } finally {
        cloud.script.refuseCsr = undefined;
        cloud.script.refuseConnect = undefined;
      }
    }

    // A wrong token: the API's 401 with its text.
    const wrong = await cli(['-register', '-config', f.configFile, '-id', id, '-cert_path', f.certPath, ...cloudFlags(), '-token', 'not-the-token']);
    assertOneLineFailure(wrong, /HTTP 401 Unauthorized: invalid or missing token$/);
    assert.ok(!wrong.stderr.includes('not-the-token'));
    assert.deepEqual(await snapshot(f.base), working);
  });

  it('-register with the broker out of reach: the files are written, and the one line says B/register was not sent', async () => {
    cloud.script.polls = ['ok'];
    const saved = cloud.script.brokerUrl;
    cloud.script.brokerUrl = `mqtts://127.0.0.1:${await freePort()}`;
    try {
      const f = await deviceFolders('offline');
      const r = await cli(['-register', '-config', f.configFile, '-id', 'device-offline', '-cert_path', f.certPath, ...cloudFlags(), '-token', cloud.accessToken, '--timeout', '1']);
      assertOneLineFailure(r, /^arduino-connector -register: the device is registered and its files are written, but B\/register was not sent \(-configure sends it again\): no session with the broker within 1 s: connection failed: .*ECONNREFUSED/);
      assert.deepEqual((await readdir(f.certPath)).sort(), ['ca.pem', 'certificate.key', 'certificate.pem']);
      assert.ok((await readFile(f.configFile, 'utf8')).includes(`url=${cloud.script.brokerUrl}\n`));
    } finally {
      cloud.script.brokerUrl = saved;
    }
  });

  it('-provision prints a CSR for CN = id that openssl verifies; the key is made once (0600) and kept', async () => {
    const certPath = join(dir.path, 'provision', 'certs');
    const first = await cli(['-provision', '-id', 'device-prov', '-cert_path', certPath]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^-----BEGIN CERTIFICATE REQUEST-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE REQUEST-----\n$/);
    assert.match(first.stderr, /New device key written to/);
    const verified = await openssl(['req', '-noout', '-verify', '-subject', '-nameopt', 'RFC2253'], first.stdout);
    assert.match(verified, /subject=CN=device-prov/);
    assert.equal(await modeOf(join(certPath, 'certificate.key')), 0o600);
    assert.equal(await modeOf(certPath), 0o700);

    const second = await cli(['-provision', '-id', 'device-prov', '-cert_path', certPath]);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stderr, '');
    const publicKey = (csr: string) => openssl(['req', '-noout', '-pubkey'], csr);
    assert.equal(await publicKey(second.stdout), await publicKey(first.stdout));
    const own = await openssl(['pkey', '-in', join(certPath, 'certificate.key'), '-pubout']);
    assert.equal(await publicKey(first.stdout), own);

    // A key of another kind is refused, not silently replaced.
    const rsaPath = join(dir.path, 'provision', 'rsa');
    await mkdir(rsaPath);
    await openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024', '-out', join(rsaPath, 'certificate.key')]);
    const before = await snapshot(rsaPath);
    const refused = await cli(['-provision', '-id', 'device-prov', '-cert_path', rsaPath]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /is a rsa key; the device key must be ECDSA P-256/);
    assert.deepEqual(await snapshot(rsaPath), before);
  });

  it('refuses bad settings before asking the cloud anything', async () => {
    const before = cloud.requests.length;
    const noId = await cli(['-register', '-cert_path', join(dir.path, 'x'), '-config', join(dir.path, 'x.cfg'), ...cloudFlags(), '-token', 'tok']);
    assert.equal(noId.code, 2);
    assert.match(noId.stderr, /^arduino-connector -register: no device id/);
    const badId = await cli(['-register', '-id', 'a/b', '-cert_path', join(dir.path, 'x'), '-config', join(dir.path, 'x.cfg'), ...cloudFlags(), '-token', 'tok']);
    assert.equal(badId.code, 2);
    assert.match(badId.stderr, /without white space, "\/", "\+" or "#"/);
    const two = await cli(['-login', '-register']);
    assert.equal(two.code, 2);
    assert.match(two.stderr, /choose one of/);
    // A cert_path under a file cannot be made: said before the login, not after.
    await writeFile(join(dir.path, 'a-file'), '');
    const unwritable = await cli(['-register', '-id', 'd', '-cert_path', join(dir.path, 'a-file', 'certs'), '-config', join(dir.path, 'x.cfg'), ...cloudFlags(), '-token', 'tok']);
    assert.equal(unwritable.code, 2);
    assert.match(unwritable.stderr, /cannot write in .*a-file/);
    assert.equal(cloud.requests.length, before);
  });
});
