// The pieces of registration that need no server: DER encodings, the CSR's structure and
// signature (checked with Node's own verify), how a server's error becomes one line.

import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import { describe, it } from 'node:test';
import { cloudFailure, cloudUrl, redact, serverErrorText, type CloudAnswer } from '../../src/registration/cloud-http.js';
import { buildCsr } from '../../src/registration/csr.js';
import { objectIdentifier, tlv } from '../../src/registration/der.js';
import { deviceKeyPem, generateDeviceKey, parseDeviceKey } from '../../src/registration/device-key.js';
import { checkDeviceId } from '../../src/registration/provisioning.js';

/** Splits one DER TLV at `offset`: its tag, where its content starts and ends. */
function readTlv(der: Buffer, offset: number): { tag: number; start: number; end: number } {
  const tag = der[offset] as number;
  let length = der[offset + 1] as number;
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (der[start + i] as number);
    start += count;
  }
  return { tag, start, end: start + length };
}

describe('DER', () => {
  it('writes short and long lengths', () => {
    assert.deepEqual([...tlv(0x04, Buffer.alloc(5)).subarray(0, 2)], [0x04, 5]);
    assert.deepEqual([...tlv(0x04, Buffer.alloc(200)).subarray(0, 3)], [0x04, 0x81, 200]);
    assert.deepEqual([...tlv(0x04, Buffer.alloc(300)).subarray(0, 4)], [0x04, 0x82, 0x01, 0x2c]);
  });

  it('writes object identifiers with multi-byte arcs', () => {
    assert.equal(objectIdentifier('1.2.840.10045.4.3.2').toString('hex'), '06082a8648ce3d040302');
    assert.equal(objectIdentifier('2.5.4.3').toString('hex'), '0603550403');
    assert.throws(() => objectIdentifier('1'), /not an OID/);
  });
});

describe('CSR', () => {
  it('is a SEQUENCE of the request info, ecdsa-with-SHA256 and a signature that verifies with the key', () => {
    const key = generateDeviceKey();
    const pem = buildCsr(key, 'dev-1');
    const der = Buffer.from(pem.replace(/-----[^-]+-----|\n/g, ''), 'base64');
    const outer = readTlv(der, 0);
    assert.equal(outer.tag, 0x30);
    assert.equal(outer.end, der.length);
    const info = readTlv(der, outer.start);
    const algorithm = readTlv(der, info.end);
    const signature = readTlv(der, algorithm.end);
    assert.equal(der.subarray(algorithm.start, algorithm.end).toString('hex'), '06082a8648ce3d040302');
    assert.equal(signature.tag, 0x03);
    const signed = der.subarray(outer.start, info.end);
    assert.ok(verify('sha256', signed, { key: createPublicKey(key), dsaEncoding: 'der' }, der.subarray(signature.start + 1, signature.end)));
    assert.ok(signed.includes(Buffer.from('dev-1')));
  });

  it('keys are P-256 in SEC1 PEM; other keys are refused', () => {
    const pem = deviceKeyPem(generateDeviceKey());
    assert.match(pem, /^-----BEGIN EC PRIVATE KEY-----\n/);
    assert.equal(parseDeviceKey(pem, 'k').asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.throws(() => parseDeviceKey('not a key', 'k.pem'), /k\.pem is not a private key/);
  });

  it('device ids that cannot be a CN, a path segment and a topic level are refused', () => {
    assert.equal(checkDeviceId('user:5a4c-77'), 'user:5a4c-77');
    for (const bad of ['', 'a/b', 'a+b', 'a#', 'a b', 'a\nb', 'x'.repeat(129)]) assert.throws(() => checkDeviceId(bad), bad);
  });
});

describe('cloud errors', () => {
  const answer = (status: number, statusMessage: string, text: string): CloudAnswer => {
    let json: Record<string, unknown> | undefined;
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      json = undefined;
    }
    return { url: 'https://api.example/x', status, statusMessage, json, text };
  };

  it('takes the server\'s words from where APIs put them', () => {
    assert.equal(serverErrorText(answer(400, '', '{"error":"access_denied","error_description":"no"}')), 'access_denied: no');
    assert.equal(serverErrorText(answer(400, '', '{"error":"slow_down"}')), 'slow_down');
    assert.equal(serverErrorText(answer(400, '', '{"message":"bad csr","code":7}')), 'bad csr');
    assert.equal(serverErrorText(answer(400, '', '{"error":{"message":"nested"}}')), 'nested');
    assert.equal(serverErrorText(answer(502, '', '  <html>gateway</html>\n')), '<html>gateway</html>');
  });

  it('is one line with the request, the status and the words, secrets hidden, control characters escaped', () => {
    const failure = cloudFailure(answer(400, 'Bad Request', '{"message":"token s3cr3t-tok\\nrefused"}'), { secrets: ['s3cr3t-tok'] });
    assert.equal(failure.message, 'POST https://api.example/x: HTTP 400 Bad Request: token ***\\nrefused');
    assert.equal(failure.status, 400);
    assert.equal(cloudFailure(answer(500, '', '')).message, 'POST https://api.example/x: HTTP 500: no error text');
    assert.equal(redact('the token abc', ['', 'abc']), 'the token ***');
  });

  it('joins paths whether or not the base ends with a slash', () => {
    assert.equal(cloudUrl('https://hydra.arduino.cc/', 'oauth/token'), 'https://hydra.arduino.cc/oauth/token');
    assert.equal(cloudUrl('http://h:1/base', '/iot/v1/devices/connect'), 'http://h:1/base/iot/v1/devices/connect');
  });
});
