// Which optional parts the device has (container engine, NetworkManager, nats-server, apt), for
// `status`. Each part's check comes from the feature that uses the part (the probe set is given,
// so a feature can bring its own); the answers are cached, so `status` never waits on a check: a
// status read after the cache is older than the TTL starts a new round in the background, and a
// timer does the same so that a part that appears or goes is noticed without requests.

import { partNames, type PartName, type PartsPresent } from '../api.js';
import { errorMessage, type Logger } from '../log.js';

export type PartProbes = { [P in PartName]: () => Promise<boolean> };

export interface OptionalPartsOptions {
  probes: PartProbes;
  /** A status read after the last round is older than this starts a new one (default 5 s). */
  ttlMs?: number;
  /** A round this often regardless of reads (default 60 s). */
  refreshMs?: number;
  /** A check that takes longer counts as absent (default 1 s). */
  probeTimeoutMs?: number;
}

const absent = (): PartsPresent => ({ containers: false, network_manager: false, nats_server: false, apt: false });

export class OptionalParts {
  private present = absent();
  private checkedAt: number | undefined;
  private round: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly options: OptionalPartsOptions, private readonly log: Logger) {}

  /** Runs the first round (each check bounded by its time-out), then one on the timer. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.options.refreshMs ?? 60_000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The last answers at once (absent before the first round ended). */
  snapshot(): PartsPresent {
    const ttl = this.options.ttlMs ?? 5000;
    if (this.checkedAt !== undefined && performance.now() - this.checkedAt > ttl) void this.refresh();
    return { ...this.present };
  }

  /** Called when a part appears or goes (not for the first round's answers). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** One round of checks; a round under way is shared. */
  refresh(): Promise<void> {
    this.round ??= this.check().finally(() => (this.round = undefined));
    return this.round;
  }

  private async check(): Promise<void> {
    const answers = await Promise.all(partNames.map((name) => this.probe(name)));
    const next = absent();
    partNames.forEach((name, i) => (next[name] = answers[i] ?? false));
    const first = this.checkedAt === undefined;
    this.checkedAt = performance.now();
    const changed = partNames.filter((name) => next[name] !== this.present[name]);
    this.present = next;
    const describe = (names: readonly PartName[]) => names.map((name) => `${name} ${next[name] ? 'present' : 'absent'}`).join(', ');
    if (first) {
      this.log.info(`optional parts: ${describe(partNames)}`);
      return;
    }
    if (changed.length === 0) return;
    this.log.info(`optional parts changed: ${describe(changed)}`);
    for (const listener of this.listeners) listener();
  }

  private async probe(name: PartName): Promise<boolean> {
    const timeoutMs = this.options.probeTimeoutMs ?? 1000;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => {
        this.log.debug(`the check of ${name} did not answer within ${timeoutMs} ms: counted absent`);
        resolve(false);
      }, timeoutMs);
    });
    try {
      return await Promise.race([this.options.probes[name](), late]);
    } catch (err) {
      this.log.debug(`the check of ${name} failed: ${errorMessage(err)}`);
      return false;
    } finally {
      clearTimeout(timer);
    }
  }
}
