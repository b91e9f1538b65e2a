// The cloud's device API: the certificate for a CSR, and the broker the device connects to.

import { X509Certificate, type KeyObject } from 'node:crypto';
import { cloudFailure, cloudUrl, jsonBody, postToCloud, requiredField } from './cloud-http.js';

export interface DeviceApi {
  apiUrl: string;
  token: string;
}

/** `POST {apiurl}/iot/v1/devices/{id}` with the CSR; the certificate, checked to be one and to
 * belong to `key` (a certificate for another key would only fail later, at the TLS handshake). */
export async function requestCertificate(api: DeviceApi, deviceId: string, csr: string, key: KeyObject): Promise<string> {
  const options = { token: api.token, secrets: [api.token] };
  const answer = await postToCloud(cloudUrl(api.apiUrl, `iot/v1/devices/${encodeURIComponent(deviceId)}`), jsonBody({ csr }), options);
  if (answer.status < 200 || answer.status > 299) throw cloudFailure(answer, options);
  const pem = requiredField(answer, 'certificate', options);
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pem);
  } catch {
    throw cloudFailure(answer, options, 'the "certificate" is not a PEM certificate');
  }
  if (!certificate.checkPrivateKey(key)) throw cloudFailure(answer, options, 'the certificate is for another key than the one of the CSR');
  return pem.endsWith('\n') ? pem : `${pem}\n`;
}

/** `POST {apiurl}/iot/v1/devices/connect`: the broker's host (or URL). */
export async function requestBrokerUrl(api: DeviceApi): Promise<string> {
  const options = { token: api.token, secrets: [api.token] };
  const answer = await postToCloud(cloudUrl(api.apiUrl, 'iot/v1/devices/connect'), jsonBody({}), options);
  if (answer.status < 200 || answer.status > 299) throw cloudFailure(answer, options);
  const url = requiredField(answer, 'url', options).trim();
  // It lands in the config file, one key=value a line.
  if (/\s/.test(url)) throw cloudFailure(answer, options, `the broker url ${JSON.stringify(url.slice(0, 100))} holds white space`);
  return url;
}
