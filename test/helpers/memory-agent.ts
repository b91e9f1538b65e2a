// The real agent over the in-memory broker, for the fast tier: no mosquitto, no network; the
// features, router and files are the real ones.

import { randomBytes } from 'node:crypto';
import { Agent, type AgentOptions } from '../../src/agent.js';
import { baseTopic } from '../../src/api.js';
import { ConnectorClient } from '../../src/client.js';
import { createLogger } from '../../src/log.js';
import { MemoryBroker, type MemoryBus } from '../../src/mqtt/memory-bus.js';
import { defaultSettings, type Settings } from '../../src/settings.js';
import { presenceWill } from '../../src/streams/presence.js';
import { tempDir } from './tmp.js';

export interface MemoryAgent {
  agent: Agent;
  broker: MemoryBroker;
  bus: MemoryBus;
  client: ConnectorClient;
  settings: Settings;
  dataDir: string;
  logs: string[];
  stop(): Promise<void>;
}

export async function startMemoryAgent(overrides: Partial<Settings> = {}, extra: Pick<AgentOptions, 'featureOptions' | 'restartDelayMs' | 'writable'> = {}): Promise<MemoryAgent> {
  const data = await tempDir('ac-memory-agent-');
  const settings: Settings = {
    ...defaultSettings(),
    id: `fast-${randomBytes(4).toString('hex')}`,
    url: 'memory://',
    sketches_path: data.path,
    drop_folder: `${data.path}/drop`,
    heartbeat_interval: 0,
    // Nothing of the machine's: an engine socket nobody serves, and apt sources of its own.
    docker_host: `${data.path}/no-docker.sock`,
    apt_config_dir: `${data.path}/apt`,
    // No local bus unless a test asks for one (on a port of its own).
    nats_port: 0,
    ...overrides,
  };
  const logs: string[] = [];
  const log = createLogger({ level: 'debug', write: (line) => void logs.push(line) });
  const broker = new MemoryBroker();
  // The will the agent gives its own MQTT connection.
  const bus = broker.client({ will: presenceWill(baseTopic(settings.base_topic, settings.id)) });
  const agent = new Agent({ settings, log, bus, ...extra });
  await agent.start();
  const clientBus = broker.client();
  const client = await ConnectorClient.over(clientBus, { deviceId: settings.id, baseTopic: settings.base_topic });
  return {
    agent,
    broker,
    bus,
    client,
    settings,
    dataDir: data.path,
    logs,
    stop: async () => {
      await client.close();
      clientBus.close();
      await agent.stop();
      bus.close();
      await data.remove();
    },
  };
}
