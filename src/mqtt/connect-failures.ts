// Why a connection attempt failed, in words a user can act on, and how often the log says so.

import type { Logger } from '../log.js';

export type ConnectError = Error & { code?: number | string };

/** Failed attempts as the log shows them: the first of each kind at once, the others at most one
 * line per interval with their count and reasons, so a device that stays offline says why without
 * a line every few seconds. */
export class FailureLog {
  private readonly seen = new Set<string>();
  private readonly unreported = new Map<string, number>();
  private total = 0;
  private lastLine = 0;

  constructor(private readonly log: Logger, private readonly intervalMs: number) {}

  failed(reason: string): void {
    this.total++;
    const now = Date.now();
    // Bounded because an error message could carry a detail that changes every time.
    if (!this.seen.has(reason) && this.seen.size < 20) {
      this.seen.add(reason);
      this.lastLine = now;
      this.log.warn(`connection failed: ${reason}`);
      return;
    }
    this.unreported.set(reason, (this.unreported.get(reason) ?? 0) + 1);
    if (now - this.lastLine < this.intervalMs) return;
    const count = [...this.unreported.values()].reduce((sum, n) => sum + n, 0);
    const reasons = [...this.unreported].map(([reason, n]) => `${n}× ${reason}`).join('; ');
    this.log.warn(`connection failed ${count} more times in the last ${Math.round((now - this.lastLine) / 100) / 10} s: ${reasons}`);
    this.lastLine = now;
    this.unreported.clear();
  }

  /** A session is up, so the outage is over: returns how many attempts it cost. */
  recovered(): number {
    const total = this.total;
    this.total = 0;
    this.seen.clear();
    this.unreported.clear();
    return total;
  }
}

/**
 * The reason of a failed attempt. `hungUp`: the broker closed the connection before any CONNACK;
 * `only5`: the user asked for MQTT 5 alone, so a broker without it will never take the device.
 */
export function describeFailure(err: ConnectError | undefined, hungUp: boolean, tried: 4 | 5, only5: boolean): string {
  if (hungUp || !err) {
    // RabbitMQ's MQTT plugin before 3.13, for one, hangs up on an MQTT 5 CONNECT.
    const hint = tried === 5 && only5 ? ': brokers that speak only MQTT 3.1.1 do that (mqtt_version auto or 3.1.1 would connect)' : '';
    return `the broker closed the connection before accepting the session (MQTT ${tried === 5 ? '5' : '3.1.1'})${hint}`;
  }
  const msg = err.message || String(err);
  if (/certificate|handshake|alert|SSL|TLS/i.test(msg) || (typeof err.code === 'string' && /CERT|TLS|SSL/.test(err.code))) {
    return `TLS handshake refused (${msg}): check certificate.pem / certificate.key and the broker's CA`;
  }
  if (typeof err.code === 'number') return `broker refused the connection (code ${err.code}): ${msg}`;
  return msg;
}
