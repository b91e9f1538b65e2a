// B/heartbeat: the system uptime, every interval while connected, so the fleet owner sees the
// device is alive (and whether it rebooted).

import { encodeStream, streamTopic } from '../api.js';
import { Feature } from '../feature.js';
import { errorMessage } from '../log.js';
import { readUptimeSeconds } from '../system/uptime.js';

export interface HeartbeatOptions {
  /** Seconds between beats; 0 turns the heartbeat off. */
  intervalSeconds: number;
  readUptime?: () => Promise<number>;
}

export class Heartbeat extends Feature<HeartbeatOptions> {
  readonly name = 'heartbeat';
  private timer: NodeJS.Timeout | undefined;
  private readonly onConnect = () => void this.beat();

  override async start(): Promise<void> {
    const { intervalSeconds } = this.options;
    // 0 turns the heartbeat off; anything else is at least a tenth of a second (tests use 0.2 s).
    if (intervalSeconds <= 0) return;
    this.timer = setInterval(() => void this.beat(), Math.max(0.1, intervalSeconds) * 1000);
    // The first beat goes out as soon as the session is up, not one interval later.
    this.deps.bus.on('connect', this.onConnect);
    if (this.deps.bus.connected) await this.beat();
  }

  override async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.deps.bus.off('connect', this.onConnect);
  }

  private async beat(): Promise<void> {
    const { bus, base, log } = this.deps;
    if (!bus.connected) return;
    try {
      const uptime = await (this.options.readUptime ?? readUptimeSeconds)();
      await bus.publish(streamTopic(base, 'heartbeat'), encodeStream('heartbeat', uptime.toFixed(2)), { qos: 0 });
    } catch (err) {
      log.warn(`heartbeat not sent: ${errorMessage(err)}`);
    }
  }
}
