// The agent: one MQTT session, the command router, and the features wired to them. Each feature
// gets its collaborators passed in; a feature that fails to start is logged and left out, so the
// rest keeps serving (no Docker, no NetworkManager... only that family answers ERROR:).

import { baseTopic, topics } from './api.js';
import type { Settings } from './settings.js';
import { AptCommands, type AptCommandsOptions } from './commands/apt.js';
import { ContainersCommands, type ContainersOptions } from './commands/containers.js';
import { Heartbeat } from './commands/heartbeat.js';
import { StatsCommands, type StatsOptions } from './commands/stats.js';
import { ReposCommands, type ReposCommandsOptions } from './commands/apt-repos.js';
import { StatusCommands } from './commands/status.js';
import { ConfigError } from './errors.js';
import type { AgentContext, Feature } from './feature.js';
import { errorMessage, type Logger } from './log.js';
import { MqttConnection } from './mqtt/connection.js';
import { CommandRouter } from './mqtt/router.js';
import { WritableMount } from './system/ro-fs.js';
import { SketchManager, type SketchManagerOptions } from './sketches/manager.js';

export interface AgentOptions {
  settings: Settings;
  log: Logger;
  /** Extra features (tests, local mode); started after the built-in ones. */
  extraFeatures?: (context: AgentContext) => Feature[];
  /** Options of the built-in features beyond what settings say (tests point them at their own
   * engines, buses and folders). */
  featureOptions?: {
    stats?: StatsOptions;
    containers?: ContainersOptions;
    apt?: AptCommandsOptions;
    repos?: ReposCommandsOptions;
    sketches?: SketchManagerOptions;
  };
}

export class Agent {
  readonly connection: MqttConnection;
  readonly router: CommandRouter;
  readonly base: string;
  readonly context: AgentContext;
  private readonly features: Feature[] = [];
  private started: Feature[] = [];
  private shadowWiped = false;

  constructor(private readonly options: AgentOptions) {
    const { settings, log } = options;
    if (!settings.id) throw new ConfigError('no device id: set id in the config file, -id or ID');
    if (!settings.url) throw new ConfigError('no broker: set url in the config file, -url or URL');
    this.base = baseTopic(settings.base_topic, settings.id);
    this.connection = new MqttConnection(
      {
        url: settings.url,
        clientId: settings.id,
        certPath: settings.cert_path || undefined,
        username: settings.mqtt_username || undefined,
        password: settings.mqtt_password || undefined,
        debugMqtt: settings.debug_mqtt,
      },
      log.child('mqtt'),
    );
    this.router = new CommandRouter({ bus: this.connection, base: this.base, log: log.child('router') });
    this.context = { settings, bus: this.connection, router: this.router, base: this.base, log };
    const ctx = (scope: string): AgentContext => ({ ...this.context, log: log.child(scope) });
    // One guard for every command that writes to "/" (-check_ro_fs), so overlapping commands
    // never remount read-only under each other.
    const writable = new WritableMount({ enabled: settings.check_ro_fs });
    const sketches = new SketchManager(ctx('sketches'), { writable, ...options.featureOptions?.sketches });
    this.features.push(
      new StatusCommands(ctx('status'), sketches),
      new Heartbeat({ bus: this.connection, base: this.base, log: log.child('heartbeat'), intervalSeconds: settings.heartbeat_interval }),
      new StatsCommands(ctx('stats'), options.featureOptions?.stats),
      sketches,
      new ContainersCommands(ctx('containers'), options.featureOptions?.containers),
      new AptCommands(ctx('apt'), { writable, ...options.featureOptions?.apt }),
      new ReposCommands(ctx('repos'), { writable, ...options.featureOptions?.repos }),
    );
    this.features.push(...(options.extraFeatures?.(this.context) ?? []));
  }

  async start(): Promise<void> {
    const { log } = this.options;
    this.connection.on('connect', this.onConnect);
    // Validates the broker settings (certificates...) before anything else starts.
    this.connection.start();
    for (const feature of this.features) {
      try {
        await feature.start();
        this.started.push(feature);
      } catch (err) {
        log.error(`${feature.name} is unavailable: ${errorMessage(err)}`);
      }
    }
    await this.router.start();
    log.info(`serving ${this.router.commands().length} commands under ${this.base}/`);
  }

  private readonly onConnect = () => {
    if (this.shadowWiped) return;
    this.shadowWiped = true;
    // The cloud's device shadow is rebuilt from what this run reports.
    this.connection.publish(topics.shadowDelete(this.base), '').catch((err) => {
      this.options.log.warn(`shadow/delete not sent: ${errorMessage(err)}`);
    });
  };

  async stop(): Promise<void> {
    for (const feature of [...this.started].reverse()) {
      try {
        await feature.stop();
      } catch (err) {
        this.options.log.warn(`${feature.name} did not stop cleanly: ${errorMessage(err)}`);
      }
    }
    this.started = [];
    await this.router.stop().catch(() => {});
    this.connection.off('connect', this.onConnect);
    await this.connection.stop();
  }
}
