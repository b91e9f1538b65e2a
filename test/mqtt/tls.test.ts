// Mutual TLS against a real mosquitto that asks for client certificates.

import assert from 'node:assert/strict';
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Agent } from '../../src/agent.js';
import { defaultSettings } from '../../src/settings.js';
import { ConfigError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { resolveBroker } from '../../src/mqtt/broker-options.js';
import { startTestAgent } from '../helpers/agent.js';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { tempDir } from '../helpers/tmp.js';
import { makeTestPki, type TestPki } from '../helpers/tls.js';
import { sleep, waitFor } from '../helpers/wait.js';

async function certFolder(root: string, name: string, cert: string, key: string, ca?: string): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir);
  await copyFile(cert, join(dir, 'certificate.pem'));
  await copyFile(key, join(dir, 'certificate.key'));
  if (ca) await copyFile(ca, join(dir, 'ca.pem'));
  return dir;
}

describe('mutual TLS', () => {
  let dir: { path: string; remove(): Promise<void> };
  let pki: TestPki;
  let broker: Broker;

  before(async () => {
    dir = await tempDir('ac-tls-');
    pki = await makeTestPki(dir.path);
    broker = await startMosquitto({
      tls: { caFile: pki.caFile, certFile: pki.serverCert, keyFile: pki.serverKey, requireCertificate: true },
    });
  });
  after(async () => {
    await broker?.close();
    await dir?.remove();
  });

  it('connects with the device certificate from cert_path and answers', async () => {
    const certs = await certFolder(dir.path, 'good', pki.clientCert, pki.clientKey, pki.caFile);
    const t = await startTestAgent(broker.url, { cert_path: certs }, {}, { certPath: certs });
    try {
      const reply = await t.client.call('status', {});
      assert.equal(reply.ok, true);
    } finally {
      await t.stop();
    }
  });

  it('is refused with a certificate from another CA, and says so clearly', async () => {
    const certs = await certFolder(dir.path, 'stranger', pki.strangerCert, pki.strangerKey, pki.caFile);
    const lines: string[] = [];
    const agent = new Agent({
      settings: { ...defaultSettings(), id: 'tls-stranger', url: broker.url, cert_path: certs, sketches_path: dir.path },
      log: createLogger({ level: 'debug', write: (l) => void lines.push(l) }),
    });
    await agent.start();
    try {
      await waitFor(() => lines.some((l) => /connection failed: TLS handshake refused/.test(l)), 'the refusal in the log');
      await sleep(300);
      assert.equal(agent.bus.connected, false);
    } finally {
      await agent.stop();
    }
  });

  it('is refused without any client certificate', async () => {
    const certs = join(dir.path, 'only-ca');
    await mkdir(certs);
    await copyFile(pki.caFile, join(certs, 'ca.pem'));
    const lines: string[] = [];
    const agent = new Agent({
      settings: { ...defaultSettings(), id: 'tls-none', url: broker.url, cert_path: certs, sketches_path: dir.path },
      log: createLogger({ level: 'debug', write: (l) => void lines.push(l) }),
    });
    await agent.start();
    try {
      await waitFor(() => lines.some((l) => /connection failed/.test(l)), 'the refusal in the log');
      assert.equal(agent.bus.connected, false);
    } finally {
      await agent.stop();
    }
  });
});

describe('broker URL resolution', () => {
  it('turns a bare host into mqtts://host:8883 with the device certificate', async () => {
    const dir = await tempDir();
    try {
      const pki = await makeTestPki(dir.path);
      const certs = await certFolder(dir.path, 'c', pki.clientCert, pki.clientKey);
      const { url, options } = resolveBroker({ url: 'a1b2c3-ats.iot.eu-west-1.amazonaws.com', clientId: 'x', certPath: certs });
      assert.equal(url, 'mqtts://a1b2c3-ats.iot.eu-west-1.amazonaws.com:8883');
      assert.ok(Buffer.isBuffer(options.cert) && options.cert.toString().includes('BEGIN CERTIFICATE'));
      assert.ok(Buffer.isBuffer(options.key) && options.key.toString().includes('PRIVATE KEY'));
      assert.equal(options.ca, undefined);
    } finally {
      await dir.remove();
    }
  });

  it('refuses a bare host without a readable certificate, naming the file', async () => {
    const dir = await tempDir();
    try {
      assert.throws(() => resolveBroker({ url: 'broker.example', clientId: 'x', certPath: dir.path }), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /client certificate .*certificate\.pem/);
        return true;
      });
      assert.throws(() => resolveBroker({ url: 'broker.example', clientId: 'x' }), /cert_path/);
    } finally {
      await dir.remove();
    }
  });

  it('uses a URL with a scheme as given, without certificates when there are none', () => {
    assert.equal(resolveBroker({ url: 'ws://127.0.0.1:9001/mqtt', clientId: 'x' }).url, 'ws://127.0.0.1:9001/mqtt');
    const { options } = resolveBroker({ url: 'mqtts://127.0.0.1:1', clientId: 'x', certPath: '/nonexistent-folder' });
    assert.equal(options.cert, undefined);
    assert.throws(() => resolveBroker({ url: 'http://x', clientId: 'x' }), /unsupported scheme/);
  });
});
