// The configured broker as MQTT.js takes it: the `url` setting (a bare host means AWS IoT style
// mutual TLS on 8883), the device certificate and CA from cert_path, the session options.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IClientOptions } from 'mqtt';
import { ConfigError } from '../errors.js';
import { errorMessage } from '../log.js';
import type { MqttVersion } from '../settings.js';
import type { Will } from './message-bus.js';

export interface ConnectionSettings {
  /** A host name (→ mqtts://host:8883 with the device certificate) or a URL with a scheme. */
  url: string;
  clientId: string;
  /** Folder holding certificate.pem and certificate.key (and optionally ca.pem). */
  certPath?: string;
  /** 'auto' (default): MQTT 5, or 3.1.1 when the broker refuses 5 or hangs up on it; '5' and
   * '3.1.1' use that version only. */
  mqttVersion?: MqttVersion;
  username?: string;
  password?: string;
  keepaliveSeconds?: number;
  backoff?: { initialMs: number; maxMs: number };
  debugMqtt?: boolean;
  /** After the first failed attempt of each kind, at most one line this often (default 60 s). */
  failureLogIntervalMs?: number;
  /** Sent with every CONNECT, over MQTT 5 and 3.1.1 alike. */
  will?: Will;
}

export interface ResolvedBroker {
  url: string;
  options: IClientOptions;
}

/** The file's content; undefined when an optional one is absent, a ConfigError naming it else. */
function readCredential(path: string, what: string, required: boolean): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError(`cannot read the ${what} ${path}: ${errorMessage(err)}`);
  }
}

/** Turns the configured `url` into MQTT.js options. A bare host means AWS IoT style mutual TLS. */
export function resolveBroker(settings: ConnectionSettings): ResolvedBroker {
  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(settings.url);
  const url = hasScheme ? settings.url : `mqtts://${settings.url}:8883`;
  const scheme = url.slice(0, url.indexOf(':')).toLowerCase();
  if (!['mqtt', 'mqtts', 'ws', 'wss', 'tcp', 'ssl', 'tls'].includes(scheme)) {
    throw new ConfigError(`url "${settings.url}": unsupported scheme "${scheme}" (use mqtt, mqtts, ws or wss)`);
  }
  const options: IClientOptions = {
    clientId: settings.clientId,
    clean: true,
    keepalive: settings.keepaliveSeconds ?? 30,
    protocolVersion: settings.mqttVersion === '3.1.1' ? 4 : 5,
    // Reconnection is ours (capped exponential back-off), and so is re-subscription.
    reconnectPeriod: 0,
    resubscribe: false,
    connectTimeout: 10_000,
    // A heartbeat that could not go out is stale by the time the broker is back.
    queueQoSZero: false,
    // Without this MQTT.js pre-builds 65,536 two-byte buffers on its first packet (about 6 MiB of
    // heap for the agent's whole life) to save one tiny allocation per packet id.
    writeCache: false,
  };
  if (settings.will) {
    const { topic, payload, qos, retain } = settings.will;
    // No MQTT 5 will delay: the broker publishes it as soon as it sees the session gone.
    options.will = { topic, payload: typeof payload === 'string' ? Buffer.from(payload) : payload, qos, retain };
  }
  if (settings.username !== undefined) options.username = settings.username;
  if (settings.password !== undefined) options.password = settings.password;

  const secure = ['mqtts', 'wss', 'ssl', 'tls'].includes(scheme);
  if (secure && settings.certPath) {
    // With a bare host the device certificate is mandatory; with an explicit URL it is used
    // when present.
    const cert = readCredential(join(settings.certPath, 'certificate.pem'), 'client certificate', !hasScheme);
    if (cert) {
      options.cert = cert;
      options.key = readCredential(join(settings.certPath, 'certificate.key'), 'client key', true);
    }
    const ca = readCredential(join(settings.certPath, 'ca.pem'), 'CA certificate', false);
    if (ca) options.ca = ca;
  } else if (!hasScheme) {
    throw new ConfigError(`url "${settings.url}" is a host name, which means mutual TLS: cert_path must name the folder with certificate.pem and certificate.key`);
  }
  return { url, options };
}
