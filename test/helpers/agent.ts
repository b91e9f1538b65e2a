// Starts the real agent in this process against a test broker, with its own data folder, and a
// client to talk to it.

import { randomBytes } from 'node:crypto';
import { Agent, type AgentOptions } from '../../src/agent.js';
import { defaultSettings, type Settings } from '../../src/settings.js';
import { ConnectorClient, type ClientOptions } from '../../src/client.js';
import { createLogger } from '../../src/log.js';
import { tempDir } from './tmp.js';
import { waitFor } from './wait.js';

export interface TestAgent {
  agent: Agent;
  settings: Settings;
  client: ConnectorClient;
  dataDir: string;
  /** Every log line the agent wrote. */
  logs: string[];
  stop(): Promise<void>;
}

export async function startTestAgent(
  brokerUrl: string,
  overrides: Partial<Settings> = {},
  extra: Pick<AgentOptions, 'featureOptions' | 'restartDelayMs' | 'writable'> = {},
  clientOptions: Partial<ClientOptions> = {},
): Promise<TestAgent> {
  const data = await tempDir('ac-agent-');
  const settings: Settings = {
    ...defaultSettings(),
    id: `test-${randomBytes(4).toString('hex')}`,
    url: brokerUrl,
    cert_path: '',
    sketches_path: data.path,
    drop_folder: `${data.path}/drop`,
    heartbeat_interval: 15,
    log_level: 'debug',
    // No local bus unless a test asks for one (on a port of its own).
    nats_port: 0,
    ...overrides,
  };
  const logs: string[] = [];
  const log = createLogger({ level: 'debug', write: (line) => void logs.push(line) });
  const agent = new Agent({ settings, log, ...extra });
  await agent.start();
  await waitFor(() => agent.bus.connected, 'the agent to connect');
  const client = await ConnectorClient.connect({ broker: brokerUrl, deviceId: settings.id, baseTopic: settings.base_topic, ...clientOptions });
  // Subscriptions are made asynchronously after the connection: wait until commands are served.
  await waitFor(async () => (await client.call('status', {}, 500)).ok, 'the agent to answer status');
  return {
    agent,
    settings,
    client,
    dataDir: data.path,
    logs,
    stop: async () => {
      await client.close();
      await agent.stop();
      await data.remove();
    },
  };
}
