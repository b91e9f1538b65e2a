// status lists the optional parts, each found by the feature that uses it, against the real
// things: a Docker engine (the test's dockerd) or a socket nobody serves, NetworkManager on a
// private D-Bus (python3-dbusmock) or a bus without it, dpkg and apt-get on the PATH or not. A part
// that appears is noticed, and B/status says so.

import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeStream, topics, type PartsPresent, type StatusBody } from '../../src/api.js';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import { startDbusDaemon, startNetworkManagerMock, type DbusDaemon, type NetworkManagerMock } from '../helpers/dbusmock.js';
import { startDockerEngine, type TestDockerEngine } from '../helpers/docker-engine.js';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

async function partsOf(t: TestAgent): Promise<PartsPresent> {
  const reply = await t.client.call('status', {});
  assert.ok(reply.ok, reply.ok ? '' : reply.message);
  const parts = (JSON.parse(reply.body) as StatusBody).parts;
  assert.ok(parts, 'status lists the parts');
  return parts;
}

describe('status: optional parts', () => {
  let broker: Broker;
  let dir: { path: string; remove(): Promise<void> };

  before(async () => {
    broker = await startMosquitto();
    dir = await tempDir('ac-parts-');
  });
  after(async () => {
    await broker?.close();
    await dir?.remove();
  });

  it('no engine at docker_host, no NetworkManager on the bus, no dpkg on the PATH: absent; NetworkManager that appears: present, on B/status too', async () => {
    const bus = await startDbusDaemon();
    const emptyPath = join(dir.path, 'empty-bin');
    await mkdir(emptyPath, { recursive: true });
    const t = await startTestAgent(
      broker.url,
      { docker_host: join(dir.path, 'no-docker.sock') },
      {
        featureOptions: {
          stats: { systemBusAddress: bus.address },
          apt: { env: { ...process.env, PATH: emptyPath } },
          parts: { ttlMs: 100 },
        },
      },
    );
    let nm: NetworkManagerMock | undefined;
    try {
      const parts = await partsOf(t);
      assert.equal(parts.containers, false);
      assert.equal(parts.network_manager, false);
      assert.equal(parts.apt, false);

      const published: StatusBody[] = [];
      await t.client.follow(topics.status(t.agent.base), (_topic, payload) => void published.push(decodeStream('status', payload.toString())));
      nm = await startNetworkManagerMock(bus);
      // A read after the cache aged starts a new round; a later read has its answers.
      await waitFor(async () => (await partsOf(t)).network_manager, 'NetworkManager to be found', 15_000);
      const told = await waitFor(() => published.find((body) => body.parts?.network_manager), 'B/status with NetworkManager present');
      assert.deepEqual(told.sketches, {});
      assert.match(t.logs.join('\n'), /optional parts changed: network_manager present/);
    } finally {
      await t.stop();
      await nm?.stop();
      await bus.close();
    }
  });

  describe('with the real parts', () => {
    let engine: TestDockerEngine;
    let bus: DbusDaemon;
    let nm: NetworkManagerMock;

    before(async () => {
      engine = await startDockerEngine();
      bus = await startDbusDaemon();
      nm = await startNetworkManagerMock(bus);
    });
    after(async () => {
      await engine?.close();
      await nm?.stop();
      await bus?.close();
    });

    it('an engine at docker_host, NetworkManager on the bus, dpkg and apt-get on the PATH: present', async () => {
      const t = await startTestAgent(broker.url, { docker_host: engine.socketPath }, { featureOptions: { stats: { systemBusAddress: bus.address } } });
      try {
        const parts = await partsOf(t);
        assert.equal(parts.containers, true);
        assert.equal(parts.network_manager, true);
        // This suite runs on Debian (its apt tests need dpkg): the agent's PATH has both.
        assert.equal(parts.apt, true);
      } finally {
        await t.stop();
      }
    });
  });
});
