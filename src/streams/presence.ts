// B/presence, retained: `online` (version, host, since) when each broker session begins, and
// `offline` when it ends. The broker says `offline` itself when the agent dies or the link is lost
// (the session's last will, which the agent hands to its connection: presenceWill); a clean stop
// says it before disconnecting, since a DISCONNECT makes the broker discard the will.
//
// `since` is the session's start, not the agent's: presence answers "reachable since when", and
// every reconnection (after which the broker has published the will) begins a new stretch.

import { hostname } from 'node:os';
import { encodeStream, streamTopic, type Presence as PresenceMessage } from '../api.js';
import { Feature } from '../feature.js';
import { errorMessage } from '../log.js';
import type { Will } from '../mqtt/message-bus.js';

/** The session's last will: `offline`, retained, QoS 1. */
export function presenceWill(base: string): Will {
  return { topic: streamTopic(base, 'presence'), payload: encodeStream('presence', { state: 'offline' }), qos: 1, retain: true };
}

export interface PresenceOptions {
  version: string;
  /** Default: the machine's host name. */
  host?: string;
  /** How long a clean stop waits for the broker to acknowledge `offline` (default 2 s). */
  offlineTimeoutMs?: number;
}

export class Presence extends Feature<PresenceOptions> {
  readonly name = 'presence';
  /** The session `online` was last published for: one message per session. */
  private announced: Date | undefined;
  private readonly onConnect = () => void this.announce();

  override async start(): Promise<void> {
    this.deps.bus.on('connect', this.onConnect);
    // The session may have begun before this listener was there.
    if (this.deps.bus.connected) await this.announce();
  }

  override async stop(): Promise<void> {
    const { bus, log } = this.deps;
    bus.off('connect', this.onConnect);
    // Not connected: the broker has published the will, or will once it notices.
    if (!bus.connected) return;
    let timer: NodeJS.Timeout | undefined;
    const timeoutMs = this.options.offlineTimeoutMs ?? 2000;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`not acknowledged within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([this.send({ state: 'offline' }), timedOut]);
    } catch (err) {
      log.warn(`presence offline not sent: ${errorMessage(err)}`);
    } finally {
      clearTimeout(timer);
    }
  }

  private async announce(): Promise<void> {
    const { bus, log } = this.deps;
    const session = bus.sessionStart;
    if (!bus.connected || session === undefined || session === this.announced) return;
    this.announced = session;
    const host = this.options.host ?? hostname();
    try {
      await this.send({ state: 'online', version: this.options.version, host, since: session.toISOString() });
    } catch (err) {
      // The next session announces itself; this one is already gone.
      log.warn(`presence online not sent: ${errorMessage(err)}`);
    }
  }

  private send(message: PresenceMessage): Promise<void> {
    const { bus, base } = this.deps;
    return bus.publish(streamTopic(base, 'presence'), encodeStream('presence', message), { qos: 1, retain: true });
  }
}
