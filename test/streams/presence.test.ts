// B/presence with the agent as a process and a real mosquitto: retained `online` (version, host,
// since) for a subscriber that comes late, `offline` from the broker (the will) after kill -9,
// `offline` from the agent itself on SIGTERM, and `online` again after the broker restarted. Over
// MQTT 5 and 3.1.1.

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { decodeStream, topics, type Presence } from '../../src/api.js';
import { presenceWill } from '../../src/streams/presence.js';
import { VERSION } from '../../src/version.js';
import { startTestAgent } from '../helpers/agent.js';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { startProcess, type Started } from '../helpers/process.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const main = join(root, 'src/cli/main.ts');

interface Seen {
  presence: Presence;
  retained: boolean;
}

/** A client following one device's B/presence from now on (retained message first, if any). */
async function follow(url: string, deviceId: string) {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 200 });
  const seen: Seen[] = [];
  client.on('message', (_topic, payload, packet) => seen.push({ presence: decodeStream('presence', payload.toString()), retained: packet.retain }));
  await client.subscribeAsync(topics.presence(`$aws/things/${deviceId}`), { qos: 1 });
  return {
    seen,
    /** The first message after the `from` first ones that satisfies `check`. */
    next: (from: number, check: (m: Seen) => boolean, what: string) => waitFor(() => seen.slice(from).find(check), what, 20_000),
    close: () => client.endAsync(),
  };
}

/** What a subscriber that arrives now is given: the retained message. */
async function retainedNow(url: string, deviceId: string): Promise<Seen> {
  const late = await follow(url, deviceId);
  try {
    return await late.next(0, () => true, 'the retained presence');
  } finally {
    await late.close();
  }
}

function assertOnline(m: Seen, notBefore: number): asserts m is Seen & { presence: Extract<Presence, { state: 'online' }> } {
  assert.equal(m.presence.state, 'online');
  if (m.presence.state !== 'online') return;
  assert.equal(m.presence.version, VERSION);
  assert.equal(m.presence.host, hostname());
  assert.match(m.presence.since, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  const since = Date.parse(m.presence.since);
  assert.ok(since >= notBefore && since <= Date.now(), `since ${m.presence.since} is within the session`);
}

describe('presence on B/presence', () => {
  let broker: Broker;
  let dir: { path: string; remove(): Promise<void> };
  const running: Started[] = [];

  before(async () => {
    broker = await startMosquitto();
    dir = await tempDir('ac-presence-');
  });
  after(async () => {
    for (const agent of running) agent.child.kill('SIGKILL');
    await broker?.close();
    await dir?.remove();
  });

  async function startAgent(id: string, extra = ''): Promise<Started> {
    const file = join(dir.path, `${id}.cfg`);
    const data = join(dir.path, id);
    await writeFile(file, `id=${id}\nurl=${broker.url}\nsketches_path=${data}\ndrop_folder=${data}/drop\ncert_path=\ndocker_host=${data}/no-docker.sock\n${extra}`);
    const agent = startProcess(process.execPath, ['--import', 'tsx', main, '-config', file, '-debug-mqtt'], { cwd: root, env: { PATH: process.env.PATH, HOME: process.env.HOME } });
    running.push(agent);
    return agent;
  }

  for (const version of ['5', '3.1.1'] as const) {
    it(`MQTT ${version}: retained online for a late subscriber, offline from the will after kill -9`, async () => {
      const id = `presence-kill-${version.replace('.', '')}`;
      const watcher = await follow(broker.url, id);
      try {
        const started = Date.now();
        const agent = await startAgent(id, `mqtt_version=${version}\n`);
        await watcher.next(0, (m) => m.presence.state === 'online', 'online');
        const late = await retainedNow(broker.url, id);
        assert.equal(late.retained, true);
        assertOnline(late, started);

        const before = watcher.seen.length;
        agent.child.kill('SIGKILL');
        await agent.exit;
        const offline = await watcher.next(before, () => true, 'the will');
        assert.deepEqual(offline.presence, { state: 'offline' });
        // Nothing but the broker could have said it: the agent was killed without a word.
        assert.ok(!/"state":"offline"/.test(agent.stderr()), 'the agent never published offline');
        assert.deepEqual(await retainedNow(broker.url, id), { presence: { state: 'offline' }, retained: true });
      } finally {
        await watcher.close();
      }
    });
  }

  it('says offline itself on SIGTERM, before it disconnects', async () => {
    const id = 'presence-stop';
    const agent = await startAgent(id);
    const watcher = await follow(broker.url, id);
    try {
      await watcher.next(0, (m) => m.presence.state === 'online', 'online');
      const before = watcher.seen.length;
      agent.child.kill('SIGTERM');
      assert.equal((await agent.exit).code, 0);
      const offline = await watcher.next(before, () => true, 'offline');
      assert.deepEqual(offline.presence, { state: 'offline' });
      // Published by the agent (a DISCONNECT makes the broker discard the will), acknowledged
      // before the session ended.
      assert.match(agent.stderr(), /MQTT OUT \$aws\/things\/presence-stop\/presence \{"state":"offline"\}/);
      assert.deepEqual(await retainedNow(broker.url, id), { presence: { state: 'offline' }, retained: true });
    } finally {
      await watcher.close();
    }
  });

  it('a session taken over from one the broker still holds: the old will first, then online', async () => {
    const id = 'presence-takeover';
    // A session of the same client id that the broker still thinks alive (a link lost unseen).
    const will = presenceWill(`$aws/things/${id}`);
    const old = await mqtt.connectAsync(broker.url, { clientId: id, reconnectPeriod: 0, will: { ...will, payload: Buffer.from(will.payload) } });
    old.on('error', () => {});
    const watcher = await follow(broker.url, id);
    const agent = await startAgent(id);
    try {
      await watcher.next(0, (m) => m.presence.state === 'online', 'online');
      assert.deepEqual(
        watcher.seen.map((m) => m.presence.state),
        ['offline', 'online'],
      );
      assert.equal((await retainedNow(broker.url, id)).presence.state, 'online');
    } finally {
      agent.child.kill('SIGTERM');
      await agent.exit;
      await watcher.close();
      old.end(true);
    }
  });

  it('a clean stop with a broker that stopped answering still ends, without a DISCONNECT: the broker publishes the will', async () => {
    const t = await startTestAgent(broker.url, { docker_host: join(dir.path, 'no-docker.sock') });
    const watcher = await follow(broker.url, t.settings.id);
    try {
      await watcher.next(0, (m) => m.presence.state === 'online', 'online');
      broker.signal('SIGSTOP');
      try {
        // Bounded: 2 s for the acknowledgement of offline, 2 s for the DISCONNECT.
        await t.agent.stop();
      } finally {
        broker.signal('SIGCONT');
      }
      assert.match(t.logs.join('\n'), /presence offline not sent: not acknowledged within 2000 ms/);
      // The connection was closed under the broker, not ended with a DISCONNECT (which would
      // have made it discard the will).
      // mosquitto: "disconnected." after a DISCONNECT, "disconnected: <socket error>." or "closed
      // its connection." otherwise.
      await waitFor(() => broker.log().includes(`Client ${t.settings.id} disconnected: `) || broker.log().includes(`Client ${t.settings.id} closed its connection`), 'the broker to see the connection closed');
      assert.ok(!broker.log().includes(`Client ${t.settings.id} disconnected.`), broker.log());
      assert.deepEqual(await retainedNow(broker.url, t.settings.id), { presence: { state: 'offline' }, retained: true });
    } finally {
      await watcher.close();
      await t.stop();
    }
  });

  it('publishes online again, with a new since, once the broker is back', async () => {
    const id = 'presence-restart';
    const started = Date.now();
    const agent = await startAgent(id);
    try {
      await waitFor(() => /MQTT OUT \S+\/presence \{"state":"online"/.test(agent.stderr()), 'online', 20_000);
      const first = await retainedNow(broker.url, id);
      assertOnline(first, started);

      const restarted = Date.now();
      // Without persistence the broker forgets retained messages: what comes is the new session's.
      await broker.stop();
      await broker.start();
      await waitFor(() => (agent.stderr().match(/MQTT OUT \S+\/presence \{"state":"online"/g) ?? []).length >= 2, 'online after the restart', 30_000).catch((err: unknown) => {
        throw new Error(`${String(err)}; the agent's log:\n${agent.stderr()}`);
      });
      const again = await retainedNow(broker.url, id);
      assertOnline(again, restarted);
      assert.ok(first.presence.state === 'online' && Date.parse(again.presence.since) > Date.parse(first.presence.since));
    } finally {
      agent.child.kill('SIGTERM');
      await agent.exit;
    }
  });
});
