// -listen FILE as a user runs it: the real program, a real mosquitto, a real file. Each test
// ends with a last line it waits for; as lines are published in file order, the messages before
// it are then all there, so the exact list shows that nothing was lost, doubled, or published
// without `$$$`.

import assert from 'node:assert/strict';
import { appendFile, mkdir, rename, truncate, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { startProcess, type Started } from '../helpers/process.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const main = join(root, 'src/cli/main.ts');

interface Listening {
  agent: Started;
  /** Payloads received on B/install, in order. */
  messages: Buffer[];
  texts(): string[];
  subscriber: MqttClient;
  stop(): Promise<void>;
}

let counter = 0;

/** The program with -listen FILE, and a subscriber to its B/install. The subscriber's session is
 * persistent (QoS 1), so it gets what was published while it was away too. */
async function listen(broker: Broker, dir: string, file: string, extraArgs: string[] = [], agentUrl = broker.url): Promise<Listening> {
  const id = `listen-${process.pid}-${++counter}`;
  const messages: Buffer[] = [];
  const subscriber = await mqtt.connectAsync(broker.url, { clientId: `${id}-sub`, clean: false, protocolVersion: 4, reconnectPeriod: 100 });
  subscriber.on('message', (_topic, payload) => messages.push(payload));
  await subscriber.subscribeAsync(`$aws/things/${id}/install`, { qos: 1 });
  const config = join(dir, `${id}.cfg`);
  await writeFile(config, `id=${id}\nurl=${agentUrl}\ncert_path=\nsketches_path=${dir}\ndrop_folder=${dir}/drop\ndocker_host=${dir}/no-docker.sock\napt_config_dir=${dir}/apt\nheartbeat_interval=0\n`);
  const agent = startProcess(process.execPath, ['--import', 'tsx', main, '-config', config, '-listen', file, ...extraArgs], {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
  });
  await waitFor(() => /connected to/.test(agent.stderr()) && /\[install-log\] following/.test(agent.stderr()), 'the agent to connect and follow', 20_000);
  return {
    agent,
    messages,
    texts: () => messages.map((m) => m.toString()),
    subscriber,
    stop: async () => {
      agent.child.kill('SIGTERM');
      const { code } = await agent.exit;
      assert.equal(code, 0, agent.stderr());
      await subscriber.endAsync();
    },
  };
}

const info = (line: string) => `INFO: ${line}\n`;
const received = (l: Listening, payload: string, what: string) => waitFor(() => l.texts().includes(payload), what, 20_000);

describe('-listen FILE (the real program, a real mosquitto)', () => {
  let broker: Broker;
  let dir: { path: string; remove(): Promise<void> };

  before(async () => {
    broker = await startMosquitto({ persistence: true });
    dir = await tempDir('ac-listen-');
  });
  after(async () => {
    await broker?.close();
    await dir?.remove();
  });

  it('publishes the $$$ lines of a file that appears late, through appends, a split line, truncation and rotation, each once', async () => {
    const file = join(dir.path, 'later', 'install.log');
    const l = await listen(broker, dir.path, file);
    try {
      await waitFor(() => l.agent.stderr().includes(`waiting for ${file}: its folder does not exist`), 'the agent to wait for the file');
      await mkdir(dirname(file));
      await writeFile(file, 'Reading package lists...\n$$$ 10% unpacking\nplain line\n$$$ 20% confi');
      await received(l, info('$$$ 10% unpacking'), 'the first progress line');
      await appendFile(file, 'guring\n$$$ 30%\n');
      await received(l, info('$$$ 30%'), 'the lines after the split one');

      await truncate(file, 0);
      await appendFile(file, '$$$ 40% after truncation\n');
      await received(l, info('$$$ 40% after truncation'), 'the line written after the truncation');

      await rename(file, `${file}.1`);
      await appendFile(`${file}.1`, 'no marker\n$$$ 50% old file\n');
      await writeFile(file, '$$$ 60% new file\n');
      await received(l, info('$$$ 60% new file'), 'the line of the new file');
      await appendFile(file, 'done, no marker\n$$$ 100%\n');
      await received(l, info('$$$ 100%'), 'the last line');

      assert.deepEqual(l.texts(), [
        '$$$ 10% unpacking',
        '$$$ 20% configuring',
        '$$$ 30%',
        '$$$ 40% after truncation',
        '$$$ 50% old file',
        '$$$ 60% new file',
        '$$$ 100%',
      ].map(info));
      assert.match(l.agent.stderr(), /was truncated/);
      assert.match(l.agent.stderr(), /was replaced/);
    } finally {
      await l.stop();
    }
  });

  it('keeps the lines written while the broker is down, and publishes them in order once it is back', async () => {
    const file = join(dir.path, 'offline.log');
    await writeFile(file, '$$$ before\n');
    const l = await listen(broker, dir.path, file);
    try {
      await received(l, info('$$$ before'), 'the line written before');
      // The broker has the subscriber's acknowledgement of it once it acknowledged a later
      // message: else it would deliver it again after its restart (the subscriber's QoS 1).
      await l.subscriber.publishAsync(`sync/${process.pid}`, '', { qos: 1 });
      await broker.stop();
      await waitFor(() => /connection lost/.test(l.agent.stderr()), 'the agent to notice');
      await appendFile(file, '$$$ while down 1\nnot progress\n$$$ while down 2\n');
      await broker.start();
      await appendFile(file, '$$$ after\n');
      await received(l, info('$$$ after'), 'the line written once the broker was back');
      assert.deepEqual(l.texts(), ['$$$ before', '$$$ while down 1', '$$$ while down 2', '$$$ after'].map(info));
    } finally {
      await l.stop();
    }
  });

  it('sends a line again, once, when the connection drops before the broker got it', async () => {
    const file = join(dir.path, 'cut.log');
    await writeFile(file, '$$$ before\n');
    const proxy = await startTcpProxy(broker.port);
    const l = await listen(broker, dir.path, file, [], `mqtt://127.0.0.1:${proxy.port}`);
    try {
      await received(l, info('$$$ before'), 'the line written before');
      proxy.hold();
      await appendFile(file, '$$$ in flight\n');
      await waitFor(() => proxy.held().includes('$$$ in flight'), 'the agent to send the line');
      proxy.cut();
      await received(l, info('$$$ in flight'), 'the line, on the next session');
      await appendFile(file, '$$$ after\n');
      await received(l, info('$$$ after'), 'the next line');
      assert.deepEqual(l.texts(), ['$$$ before', '$$$ in flight', '$$$ after'].map(info));
    } finally {
      await l.stop();
      await proxy.close();
    }
  });

  it('publishes a line as written, control characters included, keeps them out of its log, and cuts a too long line', async () => {
    const file = join(dir.path, 'raw.log');
    const raw = '$$$ \u001b[31mred\u001b[0m\ttab \u2028 \u0007bell';
    // 3 + 2 × 9000 bytes: the 16 KiB cap falls inside a two-byte character, which is left out.
    const long = `$$$${'é'.repeat(9000)}`;
    await writeFile(file, `${raw}\n${long}\n$$$ end\n`);
    const l = await listen(broker, dir.path, file, ['-debug-mqtt']);
    try {
      await received(l, info('$$$ end'), 'the last line');
      assert.equal(l.messages.length, 3);
      assert.deepEqual(l.messages[0], Buffer.from(info(raw)));
      assert.equal(l.texts()[1], info(`$$$${'é'.repeat(8190)}`));
      const log = l.agent.stderr();
      assert.match(log, /MQTT OUT \S+\/install INFO: \$\$\$ \\u001b\[31mred/, 'the debug line shows the escapes');
      assert.match(log, /of 18003 bytes was published cut to 16383 bytes/);
      assert.doesNotMatch(log, /[\u0000-\u0009\u000b-\u001f\u007f\u2028]/, 'no control character in the log');
    } finally {
      await l.stop();
    }
  });
});
