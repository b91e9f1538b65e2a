// The `B/register` message: a short MQTT session with the device certificate that publishes the
// host name and MAC addresses once and waits for the broker's acknowledgement.

import { hostname, networkInterfaces } from 'node:os';
import { encodeRegister, registerTopic, type RegisterPayload } from '../api/register.js';
import { FailedError } from '../errors.js';
import { errorMessage, type Logger } from '../log.js';
import type { ConnectionSettings } from '../mqtt/broker-options.js';
import { MqttConnection } from '../mqtt/connection.js';

/** This machine as `B/register` describes it. */
export function deviceIdentity(): RegisterPayload {
  const macs = new Set<string>();
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (address.internal || address.mac === '00:00:00:00:00:00') continue;
      macs.add(address.mac);
    }
  }
  return { Host: hostname(), MACs: [...macs] };
}

export interface RegisterMessageOptions {
  connection: ConnectionSettings;
  /** The device's base topic (`$aws/things/<id>` by default). */
  base: string;
  /** How long to wait for the broker (default 30 s). */
  timeoutMs?: number;
  /** The session's own lines, all at debug level: the caller reports the outcome. */
  log: Logger;
}

/** Connects, publishes `B/register` with QoS 1, disconnects. Throws one line that says why not. */
export async function sendRegisterMessage(options: RegisterMessageOptions): Promise<RegisterPayload> {
  const lastProblem: { text?: string } = {};
  const connection = new MqttConnection({ ...options.connection, backoff: { initialMs: 250, maxMs: 2000 } }, quiet(options.log, lastProblem, options.connection.debugMqtt === true));
  const timeoutMs = options.timeoutMs ?? 30_000;
  const payload = deviceIdentity();
  connection.start();
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        connection.off('connect', onConnect);
        reject(new FailedError(`no session with the broker within ${Math.round(timeoutMs / 1000)} s${lastProblem.text ? `: ${lastProblem.text}` : ''}`));
      }, timeoutMs);
      const onConnect = () => {
        clearTimeout(timer);
        resolve();
      };
      connection.once('connect', onConnect);
    });
    await connection.publish(registerTopic(options.base), encodeRegister(payload), { qos: 1 }).catch((err: unknown) => {
      throw new FailedError(`the register message was not acknowledged: ${errorMessage(err)}`);
    });
  } finally {
    await connection.stop();
  }
  return payload;
}

/** The session's lines go to the log at debug level (its -debug-mqtt traffic, at info, stays
 * there); the last warning is kept as the reason. */
function quiet(log: Logger, lastProblem: { text?: string }, traffic: boolean): Logger {
  const keep = (message: string) => {
    lastProblem.text = message;
    log.debug(message);
  };
  return {
    debug: (m) => log.debug(m),
    info: (m) => (traffic ? log.info(m) : log.debug(m)),
    warn: keep,
    error: keep,
    child: (scope) => quiet(log.child(scope), lastProblem, traffic),
  };
}
