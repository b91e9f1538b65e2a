// B/heartbeat: the system uptime, every interval while connected, so the fleet owner sees the
// device is alive (and whether it rebooted).

import { formatInfo, topics } from '../api.js';
import type { Feature } from '../feature.js';
import { errorMessage, type Logger } from '../log.js';
import type { MessageBus } from '../mqtt/connection.js';
import { readUptimeSeconds } from '../system/uptime.js';

export interface HeartbeatOptions {
  bus: MessageBus;
  base: string;
  log: Logger;
  intervalSeconds: number;
  readUptime?: () => Promise<number>;
}

export class Heartbeat implements Feature {
  readonly name = 'heartbeat';
  private timer: NodeJS.Timeout | undefined;
  private readonly onConnect = () => void this.beat();

  constructor(private readonly options: HeartbeatOptions) {}

  async start(): Promise<void> {
    const { bus, intervalSeconds } = this.options;
    // 0 turns the heartbeat off; anything else is at least a tenth of a second (tests use 0.2 s).
    if (intervalSeconds <= 0) return;
    this.timer = setInterval(() => void this.beat(), Math.max(0.1, intervalSeconds) * 1000);
    // The first beat goes out as soon as the session is up, not one interval later.
    bus.on('connect', this.onConnect);
    if (bus.connected) await this.beat();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.options.bus.off('connect', this.onConnect);
  }

  private async beat(): Promise<void> {
    const { bus, base, log } = this.options;
    if (!bus.connected) return;
    try {
      const uptime = await (this.options.readUptime ?? readUptimeSeconds)();
      await bus.publish(topics.heartbeat(base), formatInfo(uptime.toFixed(2)), { qos: 0 });
    } catch (err) {
      log.warn(`heartbeat not sent: ${errorMessage(err)}`);
    }
  }
}
