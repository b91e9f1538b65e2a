// `B/register`: published once, when a device is registered or configured, so the cloud knows the
// machine behind the certificate. Bare JSON, the Go agent's field names.

import { topics } from './topics.js';

export interface RegisterPayload {
  /** The host name. */
  Host: string;
  /** The hardware addresses of the network interfaces, loopback left out. */
  MACs: string[];
}

export function registerTopic(base: string): string {
  return topics.register(base);
}

export function encodeRegister(payload: RegisterPayload): string {
  return JSON.stringify({ Host: payload.Host, MACs: payload.MACs });
}
