// The program as a user runs it: real child processes, a real mosquitto, real signals.

import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { settingDefinitions } from '../../src/settings.js';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { runProcess, startProcess, type Started } from '../helpers/process.js';
import { tempDir } from '../helpers/tmp.js';
import { withoutParts } from '../helpers/status-body.js';
import { waitFor } from '../helpers/wait.js';
import { VERSION } from '../../src/version.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const main = join(root, 'src/cli/main.ts');

function start(args: string[], env: NodeJS.ProcessEnv = {}): Started {
  return startProcess(process.execPath, ['--import', 'tsx', main, ...args], { cwd: root, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } });
}

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  return runProcess(process.execPath, ['--import', 'tsx', main, ...args], { cwd: root, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } });
}

describe('arduino-connector command line', () => {
  it('--help lists every setting and the commands', async () => {
    const { code, stdout } = await run(['--help']);
    assert.equal(code, 0);
    for (const d of settingDefinitions) assert.ok(stdout.includes(`-${d.key}`), d.key);
    for (const word of ['local', 'call', '--config', '--debug-mqtt']) assert.ok(stdout.includes(word), word);
  });

  it('refuses an unknown flag and a broken config file with a clear message', async () => {
    const bad = await run(['-frobnicate']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown flag -frobnicate/);
    const dir = await tempDir();
    try {
      const file = join(dir.path, 'bad.cfg');
      await writeFile(file, 'id=x\nnot a setting line\n');
      const broken = await run(['-config', file]);
      assert.equal(broken.code, 2);
      assert.match(broken.stderr, /bad\.cfg:2: expected key=value/);
    } finally {
      await dir.remove();
    }
  });

  it('refuses to start without a device id or broker', async () => {
    const dir = await tempDir();
    try {
      const file = join(dir.path, 'empty.cfg');
      await writeFile(file, '');
      const r = await run(['--config', file]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /no device id/);
    } finally {
      await dir.remove();
    }
  });
});

describe('the agent as a process', () => {
  let broker: Broker;
  let dir: { path: string; remove(): Promise<void> };

  before(async () => {
    broker = await startMosquitto();
    dir = await tempDir('ac-cli-');
  });
  after(async () => {
    await broker?.close();
    await dir?.remove();
  });

  it('runs from its config file, answers `call`, logs redacted traffic with -debug-mqtt, stops on SIGTERM', async () => {
    const file = join(dir.path, 'agent.cfg');
    await writeFile(file, `id=cli-device\nurl=${broker.url}\nsketches_path=${dir.path}\ndrop_folder=${dir.path}/drop\ncert_path=\n`);
    const agent = start(['-config', file, '-debug-mqtt'], {});
    try {
      await waitFor(() => /serving \d+ commands/.test(agent.stderr()), 'the agent to serve', 15_000);
      await waitFor(() => /connected to/.test(agent.stderr()), 'the agent to connect', 15_000);
      const status = await run(['call', 'status', '--broker', broker.url, '--device', 'cli-device']);
      assert.equal(status.code, 0, status.stderr);
      assert.deepEqual(withoutParts(status.stdout), { sketches: {}, version: VERSION });

      // A request with a secret, sent raw so it reaches the agent's log even though it is refused.
      const watcher = await mqtt.connectAsync(broker.url);
      await watcher.publishAsync('$aws/things/cli-device/status/post', '{"token":"s3cr3t-token","password":"hunter2"}');
      await waitFor(() => /MQTT IN  \$aws\/things\/cli-device\/status\/post .*"password"/.test(agent.stderr()), 'the debug line');
      assert.ok(!agent.stderr().includes('s3cr3t-token'));
      assert.ok(!agent.stderr().includes('hunter2'));
      assert.match(agent.stderr(), /"token":"\*\*\*"/);
      await watcher.endAsync();

      agent.child.kill('SIGTERM');
      const { code } = await agent.exit;
      assert.equal(code, 0);
      assert.match(agent.stderr(), /SIGTERM: stopping/);
    } finally {
      agent.child.kill('SIGKILL');
    }
  });

  it('call: exit 1 with the ERROR: line, exit 2 for a request the API refuses, exit 3 when nobody answers', async () => {
    const file = join(dir.path, 'agent2.cfg');
    await writeFile(file, `id=cli-device-2\nurl=${broker.url}\nsketches_path=${dir.path}\ncert_path=\n`);
    const agent = start(['-config', file]);
    try {
      await waitFor(() => /connected to/.test(agent.stderr()), 'the agent to connect', 15_000);
      await waitFor(async () => (await run(['call', 'status', '--broker', broker.url, '--device', 'cli-device-2'])).code === 0, 'status');
      const failed = await run(['call', 'sketch', '{"id":"no-such-sketch","action":"START"}', '--broker', broker.url, '--device', 'cli-device-2']);
      assert.equal(failed.code, 1);
      assert.match(failed.stderr, /^ERROR: .*no-such-sketch/m);
      const refused = await run(['call', 'status', '{oops', '--broker', broker.url, '--device', 'cli-device-2']);
      assert.equal(refused.code, 2);
      assert.match(refused.stderr, /not JSON/);
      const unknown = await run(['call', 'reboot', '--broker', broker.url, '--device', 'cli-device-2']);
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /unknown command "reboot"/);
      const silent = await run(['call', 'status', '--broker', broker.url, '--device', 'nobody-here', '--timeout', '1']);
      assert.equal(silent.code, 3);
      assert.match(silent.stderr, /no answer to status within 1000 ms/);
    } finally {
      agent.child.kill('SIGTERM');
      await agent.exit;
    }
  });
});

describe('local mode', () => {
  it('starts its own broker and agent, keeps its device id, and answers `call` with no flags but --data', async () => {
    const dir = await tempDir('ac-local-');
    try {
      const data = join(dir.path, 'data');
      const first = start(['local', '--data', data, '--mqtt-port', '0', '--ws-port', '0', '--console-port', '0']);
      await waitFor(() => /running in local mode/.test(first.stdout()), 'the banner', 20_000);
      const id = /device id:\s+(\S+)/.exec(first.stdout())?.[1];
      assert.ok(id?.startsWith('local:'));
      const wsUrl = /WebSocket: (ws:\/\/\S+)\)/.exec(first.stdout())?.[1];
      assert.ok(wsUrl);
      await waitFor(async () => (await run(['call', 'status', '--data', data, '--timeout', '2'])).code === 0, 'an answer over TCP', 20_000);

      // MQTT over WebSocket reaches the same device.
      const ws = await mqtt.connectAsync(wsUrl, { protocolVersion: 4 });
      const answers: string[] = [];
      ws.on('message', (_t, p) => answers.push(p.toString()));
      await ws.subscribeAsync(`$aws/things/${id}/status`);
      await ws.publishAsync(`$aws/things/${id}/status/post`, '{}');
      await waitFor(() => answers[0], 'an answer over WebSocket');
      assert.match(answers[0] ?? '', /^INFO: \{"sketches":/);
      await ws.endAsync();

      first.child.kill('SIGINT');
      assert.equal((await first.exit).code, 0);
      const cfg = await readFile(join(data, 'arduino-connector.cfg'), 'utf8');
      assert.ok(cfg.includes(`id=${id}`));

      const second = start(['local', '--data', data, '--mqtt-port', '0', '--ws-port', '0', '--console-port', '0']);
      await waitFor(() => /running in local mode/.test(second.stdout()), 'the second banner', 20_000);
      assert.ok(second.stdout().includes(`device id:   ${id}`));
      second.child.kill('SIGTERM');
      assert.equal((await second.exit).code, 0);
    } finally {
      await dir.remove();
    }
  });
});
