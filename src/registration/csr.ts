// A PKCS#10 certificate signing request (RFC 2986) for the device key, subject CN = device id,
// signed with ECDSA-SHA256: what `POST {apiurl}/iot/v1/devices/{id}` turns into the certificate.

import { createPublicKey, sign, type KeyObject } from 'node:crypto';
import { bitString, contextConstructed, objectIdentifier, pem, sequence, set, smallInteger, utf8String } from './der.js';

const OID_COMMON_NAME = '2.5.4.3';
const OID_ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';

export function buildCsr(key: KeyObject, commonName: string): string {
  const subject = sequence(set(sequence(objectIdentifier(OID_COMMON_NAME), utf8String(commonName))));
  const subjectPublicKeyInfo = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const info = sequence(smallInteger(0), subject, subjectPublicKeyInfo, contextConstructed(0, Buffer.alloc(0)));
  const signature = sign('sha256', info, { key, dsaEncoding: 'der' });
  return pem('CERTIFICATE REQUEST', sequence(info, sequence(objectIdentifier(OID_ECDSA_WITH_SHA256)), bitString(signature)));
}
