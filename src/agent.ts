// The agent: one broker session, the command router, and the features wired to them. Only the
// agent reads Settings: each feature gets the shared collaborators (FeatureDeps) and its own typed
// options. A feature that fails to start makes only its family unavailable (its commands answer
// `ERROR: <family> unavailable: <reason>`), and it is started again later, so a folder that
// appears or a disk that comes back brings the family back without a restart.

import { join } from 'node:path';
import { baseTopic, commandNames, familyOf, topics, type Family } from './api.js';
import { StatusFeature, statusCommands } from './commands/status.js';
import { AptReposFeature, aptRepoCommands } from './commands/apt-repos.js';
import { AptFeature, aptCommands, type AptOptions } from './commands/apt.js';
import { ContainersFeature, containerCommands, type ContainersOptions } from './commands/containers.js';
import { NetworkFeature, networkCommands, type NetworkOptions } from './commands/network.js';
import { OptionalParts, type OptionalPartsOptions, type PartProbes } from './commands/optional-parts.js';
import { SketchesFeature, sketchCommands, type SketchesOptions } from './commands/sketches.js';
import { StatsFeature, statsCommands, type StatsOptions } from './commands/stats.js';
import { UpdateFeature, updateCommands, type UpdateOptions } from './commands/update.js';
import { ConfigError } from './errors.js';
import { Feature, serveFamily, type FeatureDeps } from './feature.js';
import { errorMessage, type Logger } from './log.js';
import { MqttConnection } from './mqtt/connection.js';
import type { MessageBus } from './mqtt/message-bus.js';
import { Outbox } from './mqtt/outbox.js';
import { CommandRouter, type ServedFamily } from './mqtt/router.js';
import { parseMqttVersion, type Settings } from './settings.js';
import { Heartbeat } from './streams/heartbeat.js';
import { InstallLog } from './streams/install-log.js';
import { ShadowFeature, type ShadowOptions } from './streams/shadow.js';
import { Presence, presenceWill } from './streams/presence.js';
import { defaultDockerConfigPath } from './system/docker-config.js';
import { findNatsServer } from './system/nats-server.js';
import { WritableMount } from './system/ro-fs.js';
import { VERSION } from './version.js';

export interface AgentOptions {
  settings: Settings;
  log: Logger;
  /** The broker session; default: an MQTT connection made from the settings, which the agent
   * starts and stops. A bus given here is the caller's to start and stop. */
  bus?: MessageBus;
  /** Options of the built-in features beyond what the settings say (tests point them at their
   * own engines, buses and folders, and shorten their time-outs). */
  featureOptions?: {
    sketches?: Partial<SketchesOptions>;
    stats?: Partial<StatsOptions>;
    containers?: Partial<ContainersOptions>;
    apt?: Partial<AptOptions>;
    update?: Partial<UpdateOptions>;
    network?: Partial<NetworkOptions>;
    shadow?: Partial<ShadowOptions>;
    /** The checks of status's optional parts (each feature's by default) and their timing. */
    parts?: Partial<Omit<OptionalPartsOptions, 'probes'>> & { probes?: Partial<PartProbes> };
  };
  /** The -check_ro_fs guard (default: one made from the settings); tests give one that remounts
   * a file system of their own. */
  writable?: WritableMount;
  /** The first wait before a feature that failed to start is tried again (default 5 s; it
   * doubles up to 5 minutes). */
  restartDelayMs?: number;
  /** Told in one line how the broker session stands (connected, lost, unreachable and why), for
   * the service manager's status; only for the agent's own MQTT connection. */
  onBrokerStatus?: (status: string) => void;
  /** Asked by the update feature to stop the agent cleanly and end the process with `code`, so
   * that the service manager starts it again (into a new release, or to roll one back). Without
   * it (tests, local mode) the request is only logged. */
  requestExit?: (code: number, why: string) => void;
}

interface Part {
  feature: Feature<unknown>;
  /** Set for a feature that serves a command family. */
  served?: ServedFamily;
}

const maxRestartDelayMs = 5 * 60_000;

export class Agent {
  readonly bus: MessageBus;
  readonly router: CommandRouter;
  readonly base: string;
  /** The local bus (its state for `status`, its server's pid for tests). */
  readonly shadow: ShadowFeature;
  /** The durable streams' way to the broker (sketch output, B/status, B/shadow/update): kept on
   * disk while the broker is away, delivered in order when it is back. */
  readonly outbox: Outbox;
  private readonly connection: MqttConnection | undefined;
  private readonly parts: Part[];
  private readonly started = new Set<Part>();
  private readonly restartTimers = new Set<NodeJS.Timeout>();
  private stopping = false;
  private shadowWiped = false;

  constructor(private readonly options: AgentOptions) {
    const { settings, log } = options;
    if (!settings.id) throw new ConfigError('no device id: set id in the config file, -id or ID');
    if (!settings.url) throw new ConfigError('no broker: set url in the config file, -url or URL');
    this.base = baseTopic(settings.base_topic, settings.id);
    if (options.bus) {
      this.bus = options.bus;
    } else {
      this.connection = new MqttConnection(
        {
          url: settings.url,
          clientId: settings.id,
          certPath: settings.cert_path || undefined,
          username: settings.mqtt_username || undefined,
          password: settings.mqtt_password || undefined,
          mqttVersion: parseMqttVersion(settings.mqtt_version),
          debugMqtt: settings.debug_mqtt,
          will: presenceWill(this.base),
        },
        log.child('mqtt'),
      );
      if (options.onBrokerStatus) this.connection.on('status', options.onBrokerStatus);
      this.bus = this.connection;
    }
    if (!Number.isSafeInteger(settings.offline_queue_size) || settings.offline_queue_size < 0) {
      throw new ConfigError(`offline_queue_size: expected a number of bytes (0 or more), got ${settings.offline_queue_size}`);
    }
    if (!(settings.sketch_output_rate >= 0)) throw new ConfigError(`sketch_output_rate: expected bytes per second (0 or more), got ${settings.sketch_output_rate}`);
    this.outbox = new Outbox({
      bus: this.bus,
      dir: join(settings.sketches_path, 'outbox'),
      maxBytes: settings.offline_queue_size,
      droppedTopic: topics.outboxDropped(this.base),
      log: log.child('outbox'),
    });
    this.router = new CommandRouter({ bus: this.bus, base: this.base, log: log.child('router') });
    // One guard for every command that writes to "/" (-check_ro_fs), so overlapping commands
    // never remount read-only under each other.
    const writable = options.writable ?? new WritableMount({ enabled: settings.check_ro_fs });
    const deps = (scope: string): FeatureDeps => ({ bus: this.bus, base: this.base, log: log.child(scope), writable });
    const extra = options.featureOptions ?? {};

    const sketches = new SketchesFeature(deps('sketches'), {
      dataDir: settings.sketches_path,
      signatureKey: settings.signature_key,
      maxSketchBytes: settings.max_sketch_size,
      dropFolder: settings.drop_folder,
      environment: {
        http_proxy: settings.http_proxy,
        https_proxy: settings.https_proxy,
        all_proxy: settings.all_proxy,
        env_vars_to_load: settings.env_vars_to_load,
      },
      outputBus: this.outbox,
      output: { bytesPerSecond: settings.sketch_output_rate },
      ...extra.sketches,
    });
    const update = new UpdateFeature(deps('update'), {
      releasesDir: settings.releases_path || join(settings.sketches_path, 'releases'),
      signatureKey: settings.update_key || settings.signature_key,
      maxBytes: settings.max_update_size,
      probationSeconds: settings.update_probation,
      version: VERSION,
      // Set by the selector that started this agent (src/update/selector.ts).
      packagedDir: process.env.ARDUINO_CONNECTOR_PACKAGED || undefined,
      requestExit: options.requestExit ?? ((code, why) => log.warn(`${why}: would exit with ${code} to be restarted, but this agent is not run by a service`)),
      ...extra.update,
    });
    // The local bus comes up before the sketches that publish on it; its reports travel through
    // the outbox like the other durable streams.
    const shadow = new ShadowFeature(deps('shadow'), { port: settings.nats_port, serverPath: settings.nats_server_path, sink: this.outbox, ...extra.shadow });
    this.shadow = shadow;
    const stats = new StatsFeature(deps('stats'), { ...extra.stats });
    const containers = new ContainersFeature(deps('containers'), {
      socketPath: settings.docker_host,
      dockerConfigPath: defaultDockerConfigPath(),
      ...extra.containers,
    });
    const apt = new AptFeature(deps('apt'), { ...extra.apt });
    // Each part is checked by the feature that uses it; the agent never installs any of them.
    const parts = new OptionalParts(
      {
        ...extra.parts,
        probes: {
          containers: () => containers.engineAnswers(),
          network_manager: () => stats.networkManagerPresent(),
          // The bus knows whether its program is there; with the bus off, the program may still be.
          nats_server: async () => (shadow.present() === 'off' ? (await findNatsServer(settings.nats_server_path)) !== undefined : shadow.present() !== 'missing'),
          apt: () => apt.aptPresent(),
          ...extra.parts?.probes,
        },
      },
      log.child('parts'),
    );
    const status = new StatusFeature(deps('status'), { sketches: sketches.status, version: VERSION, update: update.probation, stream: this.outbox, parts });
    const network = new NetworkFeature(deps('network'), { ...extra.network });
    const aptRepos = new AptReposFeature(deps('apt-repos'), { configDir: settings.apt_config_dir });
    this.parts = [
      // First, so that it stops last: `offline` is said once everything else has stopped.
      { feature: new Presence(deps('presence'), { version: VERSION }) },
      // Next, so it is stopped after the features: their last messages go into it. While it cannot
      // start (an unwritable data folder) the durable streams are published directly, and it
      // is tried again like any feature.
      { feature: new OfflineQueue(deps('outbox'), { outbox: this.outbox }) },
      { feature: status, served: serveFamily('status', status, statusCommands) },
      { feature: new Heartbeat(deps('heartbeat'), { intervalSeconds: settings.heartbeat_interval }) },
      { feature: shadow },
      { feature: sketches, served: serveFamily('sketches', sketches, sketchCommands) },
      { feature: stats, served: serveFamily('stats', stats, statsCommands) },
      { feature: containers, served: serveFamily('containers', containers, containerCommands) },
      { feature: apt, served: serveFamily('apt', apt, aptCommands) },
      { feature: aptRepos, served: serveFamily('apt-repos', aptRepos, aptRepoCommands) },
      { feature: update, served: serveFamily('update', update, updateCommands) },
      { feature: network, served: serveFamily('network', network, networkCommands) },
    ];
    if (settings.listen) this.parts.push({ feature: new InstallLog(deps('install-log'), { file: settings.listen }) });
  }

  async start(): Promise<void> {
    this.stopping = false;
    this.bus.on('connect', this.onConnect);
    // Validates the broker settings (certificates...) before anything else starts.
    this.connection?.start();
    for (const part of this.parts) await this.startPart(part, this.options.restartDelayMs ?? 5000);
    await this.router.start();
    const families = this.router.serving();
    const commands = commandNames.filter((command) => families.includes(familyOf(command))).length;
    this.options.log.info(`serving ${commands} commands of ${families.length} families under ${this.base}/`);
  }

  private async startPart(part: Part, retryDelayMs: number): Promise<void> {
    const { feature, served } = part;
    try {
      await feature.start();
    } catch (err) {
      const reason = errorMessage(err);
      this.options.log.error(`${feature.name} is unavailable: ${reason} (trying again in ${Math.round(retryDelayMs / 1000)} s)`);
      if (served) this.router.unavailable(served.family, reason);
      this.scheduleRestart(part, retryDelayMs);
      return;
    }
    this.started.add(part);
    if (served) this.router.serve(served);
  }

  private scheduleRestart(part: Part, delayMs: number): void {
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer);
      if (this.stopping) return;
      void this.startPart(part, Math.min(delayMs * 2, maxRestartDelayMs)).then(() => {
        if (this.started.has(part)) this.options.log.info(`${part.feature.name} is available again`);
      });
    }, delayMs);
    timer.unref();
    this.restartTimers.add(timer);
  }

  /** The families whose commands are answered now. */
  serving(): Family[] {
    return this.router.serving();
  }

  private readonly onConnect = () => {
    if (this.shadowWiped) return;
    this.shadowWiped = true;
    // The cloud's device shadow is rebuilt from what this run reports.
    this.bus.publish(topics.shadowDelete(this.base), '').catch((err) => {
      this.options.log.warn(`shadow/delete not sent: ${errorMessage(err)}`);
    });
  };

  async stop(): Promise<void> {
    this.stopping = true;
    for (const timer of this.restartTimers) clearTimeout(timer);
    this.restartTimers.clear();
    for (const part of [...this.parts].reverse()) {
      if (!this.started.delete(part)) continue;
      try {
        await part.feature.stop();
      } catch (err) {
        this.options.log.warn(`${part.feature.name} did not stop cleanly: ${errorMessage(err)}`);
      }
    }
    await this.router.stop().catch(() => {});
    this.bus.off('connect', this.onConnect);
    await this.connection?.stop();
  }
}

/** The outbox's log as a part of the agent: started first, stopped last, tried again when it fails. */
class OfflineQueue extends Feature<{ outbox: Outbox }> {
  readonly name = 'offline queue';
  override start(): Promise<void> {
    return this.options.outbox.start();
  }
  override stop(): Promise<void> {
    return this.options.outbox.stop();
  }
}
