// Every device the console has seen, by its retained presence or its heartbeat, with its last
// status. Views read a snapshot; the store tells them when it changed, at most once a frame.

import { decodeBody, parseReply } from '../../src/api/answer.js';
import type { StatusBody } from '../../src/api/sketches.js';
import { topics } from '../../src/api/topics.js';
import type { Session } from './session.js';
import { baseTopic, deviceIdReader, fleetFilter } from './topics.js';
import type { ConsoleConfig } from '../../src/console/config.js';

export interface Presence {
  state: 'online' | 'offline';
  version?: string;
  host?: string;
  since?: string;
}

export interface Device {
  id: string;
  base: string;
  presence?: Presence;
  /** When the last heartbeat arrived (this page's clock, ms). */
  lastHeartbeat?: number;
  /** The system uptime the last heartbeat carried, in seconds. */
  uptime?: number;
  status?: StatusBody;
}

export type { ConsoleConfig } from '../../src/console/config.js';

const decoder = new TextDecoder();

/** Online: what its presence says; without presence, a heartbeat within the stale window. */
export function isOnline(device: Device, now: number, staleAfterMs: number): boolean {
  if (device.presence) return device.presence.state === 'online';
  return device.lastHeartbeat !== undefined && now - device.lastHeartbeat < staleAfterMs;
}

export function runningSketches(device: Device): number {
  return Object.values(device.status?.sketches ?? {}).filter((s) => s.status === 'RUNNING').length;
}

function parsePresence(text: string): Presence | undefined {
  try {
    // Bare JSON by the contract; an answer-style `INFO: ` prefix is taken too.
    const value = JSON.parse(text.startsWith('INFO: ') ? text.slice(6) : text) as Partial<Presence>;
    if (value.state !== 'online' && value.state !== 'offline') return undefined;
    const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
    return { state: value.state, version: str(value.version), host: str(value.host), since: str(value.since) };
  } catch {
    return undefined;
  }
}

export class Fleet {
  readonly devices = new Map<string, Device>();
  readonly staleAfterMs: number;
  /** Counts changes, so a view can tell whether its snapshot is old. */
  revision = 0;
  private readonly listeners = new Set<() => void>();
  private scheduled = false;

  constructor(
    private readonly session: Session,
    private readonly config: ConsoleConfig,
  ) {
    this.staleAfterMs = config.staleAfterSeconds * 1000;
  }

  start(): void {
    const pattern = this.config.baseTopic;
    const presenceId = deviceIdReader(pattern, 'presence');
    const heartbeatId = deviceIdReader(pattern, 'heartbeat');
    const statusId = deviceIdReader(pattern, 'status');
    this.session.subscribe(fleetFilter(pattern, 'presence'), (topic, payload) => {
      const id = presenceId(topic);
      const presence = id && parsePresence(decoder.decode(payload));
      if (!id || !presence) return;
      const before = this.devices.get(id)?.presence?.state;
      this.update(id, (d) => (d.presence = presence));
      // Back online (a restart): its sketches may have changed while it was away.
      if (before === 'offline' && presence.state === 'online') this.askStatus(this.devices.get(id)!);
    }, 1);
    this.session.subscribe(fleetFilter(pattern, 'heartbeat'), (topic, payload) => {
      const id = heartbeatId(topic);
      if (!id) return;
      const reply = parseReply(decoder.decode(payload));
      this.update(id, (d) => {
        d.lastHeartbeat = Date.now();
        if (reply.ok && Number.isFinite(Number(reply.body))) d.uptime = Number(reply.body);
      });
    });
    this.session.subscribe(fleetFilter(pattern, 'status'), (topic, payload) => {
      const id = statusId(topic);
      if (!id) return;
      const reply = parseReply(decoder.decode(payload));
      if (!reply.ok) return;
      const body = decodeBody(reply.body) as StatusBody;
      if (body && typeof body === 'object' && body.sketches && typeof body.sketches === 'object') this.update(id, (d) => (d.status = body));
    });
    // Heartbeat staleness moves with the clock, not only with messages.
    setInterval(() => this.changed(), 1000);
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get(id: string): Device | undefined {
    return this.devices.get(id);
  }

  /** Asks a device for its status (the answer arrives on B/status, which the store follows). */
  askStatus(device: Device): void {
    this.session.publish(topics.request(device.base, 'status'), '{}');
  }

  private update(id: string, change: (device: Device) => void): void {
    let device = this.devices.get(id);
    const isNew = !device;
    if (!device) {
      device = { id, base: baseTopic(this.config.baseTopic, id) };
      this.devices.set(id, device);
    }
    change(device);
    // A device seen for the first time: its sketch count comes from a status of its own, since
    // B/status is published only when a sketch changes state.
    if (isNew && !device.status && (device.presence?.state !== 'offline')) this.askStatus(device);
    this.changed();
  }

  private changed(): void {
    this.revision++;
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      for (const listener of this.listeners) listener();
    });
  }
}
