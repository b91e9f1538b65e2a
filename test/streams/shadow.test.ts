// The local bus as a device runs it: a real nats-server started by the agent, a real mosquitto,
// and NATS clients publishing as sketches do (one of them a process of its own). Each test that
// waits for forwarded messages ends with a marker message: NATS and MQTT keep one publisher's
// order, so once the marker is there everything before it is too, and the exact list shows that
// nothing was lost, added or reordered.

import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import mqtt, { type MqttClient } from 'mqtt';
import { binaryOfShadowValue, decodeShadowUpdate } from '../../src/api/shadow.js';
import { systemClock, type Clock } from '../../src/sketches/rate-limit.js';
import type { ShadowOptions } from '../../src/streams/shadow.js';
import type { Settings } from '../../src/settings.js';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { freePort, waitForPort } from '../helpers/net.js';
import { runProcess, startProcess } from '../helpers/process.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const publisherChild = fileURLToPath(new URL('./bus-publisher.child.ts', import.meta.url));
const natsServer = '/usr/sbin/nats-server';

let broker: Broker;

before(async () => {
  broker = await startMosquitto();
});

after(async () => {
  await broker.close();
});

interface BusAgent extends TestAgent {
  port: number;
  /** B/shadow/update payloads, in arrival order. */
  updates: string[];
  watcher: MqttClient;
  close(): Promise<void>;
}

async function startBusAgent(settings: Partial<Settings> = {}, shadow: Partial<ShadowOptions> = {}): Promise<BusAgent> {
  const port = settings.nats_port ?? (await freePort());
  const agent = await startTestAgent(broker.url, { nats_port: port, ...settings }, { featureOptions: { shadow: { restartDelayMs: 100, maxRestartDelayMs: 400, ...shadow } } });
  const updates: string[] = [];
  const watcher = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
  watcher.on('message', (_topic, payload) => updates.push(payload.toString()));
  await watcher.subscribeAsync(`$aws/things/${agent.settings.id}/shadow/update`, { qos: 1 });
  return {
    ...agent,
    port,
    updates,
    watcher,
    close: async () => {
      await watcher.endAsync();
      await agent.stop();
    },
  };
}

const marker = (n: number) => `{"state":{"reported":{"end":${n}}}}`;

/** Publishes the end marker and waits for it on B/shadow/update; returns what came before it. */
async function untilMarker(agent: BusAgent, nc: NatsConnection, n = 1): Promise<string[]> {
  nc.publish('$arduino.cloud.end', String(n));
  await nc.flush();
  await waitFor(() => agent.updates.includes(marker(n)), `the marker ${n} on B/shadow/update`, 20_000);
  const at = agent.updates.indexOf(marker(n));
  return agent.updates.slice(0, at);
}

/** Pids of live nats-servers this test process's agents started. */
async function ownServers(): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const argv = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    const state = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    if (argv.includes(`\0arduino-connector-bus-${process.pid}-`) && !/\) [ZX] /.test(state)) found.push(Number(entry));
  }
  return found;
}

describe('the local bus', () => {
  it("forwards a sketch's JSON as sent, text and bytes as strings, and only $arduino.cloud.<one token>", async () => {
    const agent = await startBusAgent();
    try {
      assert.equal(agent.agent.shadow.present(), 'running');
      const messages: Array<[string, Buffer]> = [
        ['$arduino.cloud.temperature', Buffer.from('{ "celsius": 21.50, "big": 123456789012345678901234567890 }')],
        ['$arduino.cloud.greeting', Buffer.from('hello "bus"\n\u001b[31mred')],
        ['$arduino.cloud.raw', Buffer.from([0xff, 0x00, 0xc3, 0x28])],
        ['$arduino.cloud.empty', Buffer.alloc(0)],
        ['$arduino.cloud.two.tokens', Buffer.from('1')],
        ['$arduino.cloud.q"uote\\d', Buffer.from('[1,2]')],
        ['$arduino.other', Buffer.from('2')],
        ['$arduino.cloud.end', Buffer.from('1')],
      ];
      const list = JSON.stringify(messages.map(([subject, payload]) => [subject, payload.toString('base64')]));
      const sketch = await runProcess(process.execPath, ['--import', 'tsx', publisherChild, `127.0.0.1:${agent.port}`, list], { cwd: root });
      assert.equal(sketch.code, 0, sketch.stderr);
      await waitFor(() => agent.updates.includes(marker(1)), 'the marker', 20_000);
      assert.deepEqual(agent.updates, [
        '{"state":{"reported":{"temperature":{ "celsius": 21.50, "big": 123456789012345678901234567890 }}}}',
        '{"state":{"reported":{"greeting":"hello \\"bus\\"\\n\\u001b[31mred"}}}',
        '{"state":{"reported":{"raw":"data:application/octet-stream;base64,/wDDKA=="}}}',
        '{"state":{"reported":{"empty":""}}}',
        '{"state":{"reported":{"q\\"uote\\\\d":[1,2]}}}',
        marker(1),
      ]);
      for (const update of agent.updates) JSON.parse(update);
      assert.deepEqual(binaryOfShadowValue(decodeShadowUpdate(agent.updates[2]!).value), Buffer.from([0xff, 0x00, 0xc3, 0x28]));
      assert.equal(agent.agent.shadow.counters().forwarded, 6);
    } finally {
      await agent.close();
    }
  });

  it('refuses what is too large: the bus to the sender, the agent once written for the shadow', async () => {
    const agent = await startBusAgent({}, { maxMessageBytes: 8192 });
    const nc = await connect({ servers: `127.0.0.1:${agent.port}` });
    try {
      // The bus's own limit, 4 KiB under the message's, is what the sender is told.
      assert.equal(nc.info?.max_payload, 4096);
      assert.throws(() => nc.publish('$arduino.cloud.big', 'x'.repeat(5000)), /payload|max/i);
      // Under the bus's limit, but each control character is six once escaped.
      nc.publish('$arduino.cloud.escaped', '\u0001'.repeat(3000));
      nc.publish('$arduino.cloud.fits', 'y'.repeat(4000));
      const before = await untilMarker(agent, nc);
      assert.deepEqual(before, [`{"state":{"reported":{"fits":"${'y'.repeat(4000)}"}}}`]);
      assert.equal(agent.agent.shadow.counters().tooLarge, 1);
      assert.equal(agent.logs.filter((line) => /over 8192 bytes once written for the shadow; dropped/.test(line)).length, 1);
    } finally {
      await nc.close();
      await agent.close();
    }
  });

  it('holds messages past the free ones by count/1000 s each, capped, and keeps their order', async () => {
    const slept: number[] = [];
    const clock: Clock = { now: () => Date.now(), sleep: (ms, signal) => (slept.push(ms), systemClock.sleep(ms, signal)) };
    const agent = await startBusAgent({}, { rateLimit: { freeMessages: 3, maxDelayMs: 6, clock } });
    const nc = await connect({ servers: `127.0.0.1:${agent.port}` });
    try {
      for (let i = 1; i <= 7; i++) nc.publish('$arduino.cloud.n', String(i));
      const before = await untilMarker(agent, nc);
      assert.deepEqual(before, [1, 2, 3, 4, 5, 6, 7].map((i) => `{"state":{"reported":{"n":${i}}}}`));
      // Messages 4 to 7 wait 4, 5, 6 and 6 ms (the cap); the marker, the 8th, 6 ms too.
      assert.deepEqual(slept, [4, 5, 6, 6, 6]);
    } finally {
      await nc.close();
      await agent.close();
    }
  });

  it('starts nats-server again after a kill -9 and forwards again', async () => {
    const agent = await startBusAgent();
    try {
      const first = agent.agent.shadow.serverPid();
      assert.ok(first);
      process.kill(first, 'SIGKILL');
      await waitFor(() => {
        const pid = agent.agent.shadow.serverPid();
        return pid !== undefined && pid !== first && agent.agent.shadow.present() === 'running';
      }, 'a new nats-server', 20_000);
      assert.ok(agent.logs.some((line) => /nats-server was ended by SIGKILL; starting it again/.test(line)));
      // The agent's own client reconnects by itself; a sketch connects anew.
      await waitFor(() => agent.logs.some((line) => /the client is connected again/.test(line)), 'the agent\'s client to reconnect', 20_000);
      const nc = await connect({ servers: `127.0.0.1:${agent.port}` });
      try {
        nc.publish('$arduino.cloud.after', '"restart"');
        assert.deepEqual(await untilMarker(agent, nc), ['{"state":{"reported":{"after":"restart"}}}']);
      } finally {
        await nc.close();
      }
    } finally {
      await agent.close();
    }
    assert.deepEqual(await ownServers(), []);
  });

  it('without nats-server: one clear line, everything else serves, quiet until the program appears', async () => {
    const dir = await tempDir('ac-bus-missing-');
    const path = join(dir.path, 'nats-server');
    const agent = await startBusAgent({ nats_server_path: path });
    try {
      assert.equal(agent.agent.shadow.present(), 'missing');
      assert.ok((await agent.client.call('status', {}, 5000)).ok);
      assert.deepEqual(agent.updates, []);
      // Installed later: found by a later try, without saying the first line again.
      await symlink(natsServer, path);
      await waitFor(() => agent.agent.shadow.present() === 'running', 'the bus to come up', 20_000);
      const said = agent.logs.filter((line) => /local bus off: no .*nats-server/.test(line));
      assert.equal(said.length, 1, said.join(''));
      assert.match(said[0]!, /ERROR/);
      assert.ok(agent.logs.some((line) => /nats-server is there now: starting the local bus/.test(line)));
      await waitFor(() => agent.logs.some((line) => /forwarding \$arduino\.cloud\.\*/.test(line)), 'the subscription');
      const nc = await connect({ servers: `127.0.0.1:${agent.port}` });
      try {
        nc.publish('$arduino.cloud.late', 'true');
        assert.deepEqual(await untilMarker(agent, nc), ['{"state":{"reported":{"late":true}}}']);
      } finally {
        await nc.close();
      }
    } finally {
      await agent.close();
      await dir.remove();
    }
  });

  it('nats_port=0: no server, no client, the rest serves', async () => {
    const agent = await startBusAgent({ nats_port: 0 });
    try {
      assert.equal(agent.agent.shadow.present(), 'off');
      assert.equal(agent.agent.shadow.serverPid(), undefined);
      assert.deepEqual(await ownServers(), []);
      assert.ok(agent.logs.some((line) => /local bus off \(nats_port=0\)/.test(line)));
      assert.ok(!agent.logs.some((line) => /forwarding/.test(line)));
      assert.ok((await agent.client.call('status', {}, 5000)).ok);
    } finally {
      await agent.close();
    }
  });

  it('a port held by another program: said once, tried again, the own server once it is free', async () => {
    const port = await freePort();
    const squatter = createServer((socket) => socket.destroy());
    await new Promise<void>((r) => squatter.listen(port, '127.0.0.1', r));
    const agent = await startBusAgent({ nats_port: port });
    try {
      await waitFor(() => agent.agent.shadow.present() === 'port in use', 'the port to be found taken');
      // Several tries while it is taken, one line.
      await waitFor(() => agent.logs.filter((line) => /Error listening on port/.test(line)).length >= 3, 'more tries', 20_000);
      const said = agent.logs.filter((line) => /is in use by another program/.test(line));
      assert.equal(said.length, 1, said.join(''));
      assert.match(said[0]!, new RegExp(`127\\.0\\.0\\.1:${port} is in use by another program`));
      // Nor does the client, which finds no NATS server there, say more than once that it failed.
      assert.equal(agent.logs.filter((line) => /WARN .*the client could not connect/.test(line)).length, 1);
      await new Promise<void>((r) => squatter.close(() => r()));
      await waitFor(() => agent.agent.shadow.present() === 'running', 'the own server', 20_000);
      assert.ok(agent.logs.some((line) => /is free again/.test(line)));
      await waitFor(() => agent.logs.some((line) => /forwarding \$arduino\.cloud\.\*/.test(line)), 'the subscription', 20_000);
      const nc = await connect({ servers: `127.0.0.1:${port}` });
      try {
        nc.publish('$arduino.cloud.freed', '1');
        assert.deepEqual(await untilMarker(agent, nc), ['{"state":{"reported":{"freed":1}}}']);
      } finally {
        await nc.close();
      }
    } finally {
      squatter.close();
      await agent.close();
    }
  });

  it('ends a nats-server left by an agent that is gone before it starts its own on that port', async () => {
    const port = await freePort();
    // Named as this process would name it, with a start time that is not this process's: the
    // name of an agent that is gone (run without setpriv, so nothing else ends it).
    const leftover = startProcess(natsServer, ['-a', '127.0.0.1', '-p', String(port), '--server_name', `arduino-connector-bus-${process.pid}-1`]);
    await waitForPort(port);
    const agent = await startBusAgent({ nats_port: port });
    try {
      const { signal } = await leftover.exit;
      assert.equal(signal, 'SIGKILL');
      assert.ok(agent.logs.some((line) => line.includes(`ended nats-server ${leftover.child.pid}, left by an agent that is gone`)));
      assert.equal(agent.agent.shadow.present(), 'running');
      const nc = await connect({ servers: `127.0.0.1:${port}` });
      try {
        nc.publish('$arduino.cloud.own', '1');
        assert.deepEqual(await untilMarker(agent, nc), ['{"state":{"reported":{"own":1}}}']);
      } finally {
        await nc.close();
      }
    } finally {
      leftover.child.kill('SIGKILL');
      await agent.close();
    }
  });

  it('nats-server dies with an agent killed by kill -9', async () => {
    const dir = await tempDir('ac-bus-kill-');
    const port = await freePort();
    const config = join(dir.path, 'agent.cfg');
    await writeFile(config, `id=bus-kill-${process.pid}\nurl=${broker.url}\ncert_path=\nsketches_path=${dir.path}\ndrop_folder=${dir.path}/drop\ndocker_host=${dir.path}/no-docker.sock\napt_config_dir=${dir.path}/apt\nheartbeat_interval=0\nnats_port=${port}\n`);
    const agent = startProcess(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), '-config', config], { cwd: root, env: { PATH: process.env.PATH, HOME: process.env.HOME } });
    try {
      await waitFor(() => /forwarding \$arduino\.cloud\.\*/.test(agent.stderr()), 'the bus', 30_000);
      const servers = await waitFor(async () => {
        const found: number[] = [];
        for (const entry of await readdir('/proc')) {
          const argv = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
          if (argv.includes(`\0arduino-connector-bus-${agent.child.pid}-`)) found.push(Number(entry));
        }
        return found.length === 1 ? found : undefined;
      }, "the agent's nats-server");
      agent.child.kill('SIGKILL');
      await agent.exit;
      await waitFor(async () => !(await readFile(`/proc/${servers[0]}/stat`, 'utf8').catch(() => '')).match(/\) [^ZX] /), 'nats-server to end with its agent');
    } finally {
      agent.child.kill('SIGKILL');
      await dir.remove();
    }
  });
});
