// docs/asyncapi.yaml against the live agent: a real mosquitto, the real agent with a real Docker
// engine, apt on a local repository and signed sketches from a real HTTP server. Valid and invalid
// requests of every family are sent (the client asks for MQTT 5 replies, so the reply path runs
// too), and every message the agent publishes during the test — answers on B/<command>, streams,
// sketch output — must fit a message that the document declares for its topic: the framing
// (`INFO: `/`ERROR: ` and the newline, bare JSON, raw bytes) and the body's JSON Schema (ajv).

import { Ajv, type ValidateFunction } from 'ajv';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { documentPath } from '../scripts/asyncapi.js';
import { commandNames, familyOf, topics, type CommandName, type Family, type JsonSchema, type RequestOf } from '../src/api.js';
import { startTestAgent, type TestAgent } from './helpers/agent.js';
import { seedSourcesList } from './helpers/apt-fixtures.js';
import { createLocalAptRepo, type LocalAptRepo } from './helpers/apt-repo.js';
import { startDockerEngine, SLEEPER_CMD, type TestDockerEngine } from './helpers/docker-engine.js';
import { startHttpServer, type TestHttpServer } from './helpers/http-server.js';
import { AP_SEC_KEY_MGMT_PSK, DeviceState, startDbusDaemon, startNetworkManagerMock, type DbusDaemon, type NetworkManagerMock } from './helpers/dbusmock.js';
import { startMosquitto, type Broker } from './helpers/mosquitto.js';
import { makeKeyPair, signFile } from './helpers/signing.js';
import { tempDir } from './helpers/tmp.js';
import { waitFor } from './helpers/wait.js';

interface DocMessage {
  contentType: string;
  payload: JsonSchema;
  'x-text-prefix'?: string;
}
interface DocChannel {
  address: string;
  messages: Record<string, DocMessage>;
}
interface DocOperation {
  action: 'send' | 'receive';
  channel: { $ref: string };
  reply?: { channel: { $ref: string } };
}
interface Doc {
  channels: Record<string, DocChannel>;
  operations: Record<string, DocOperation>;
}

/** A message kind of the document, as a check of one payload: undefined when it fits. */
type Check = (payload: Buffer) => string | undefined;

function checkOf(message: DocMessage, ajv: Ajv): Check {
  if (message.contentType === 'application/octet-stream') return () => undefined;
  const validate: ValidateFunction = ajv.compile(message.payload);
  const prefix = message['x-text-prefix'];
  const textBody = message.payload.type === 'string';
  return (payload) => {
    let text = payload.toString('utf8');
    if (prefix !== undefined) {
      if (!text.startsWith(prefix) || !text.endsWith('\n')) return `not framed as ${JSON.stringify(prefix)}…\\n`;
      text = text.slice(prefix.length, -1);
    }
    let body: unknown = text;
    if (!textBody) {
      try {
        body = JSON.parse(text);
      } catch {
        return 'the body is not JSON';
      }
    }
    return validate(body) ? undefined : ajv.errorsText(validate.errors);
  };
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Every channel the device publishes on (stream channels and the reply channels of requests),
 * as a topic matcher and the checks of its messages. */
function publishedChannels(doc: Doc, base: string, ajv: Ajv): { name: string; matches: RegExp; checks: Map<string, Check> }[] {
  const ids = new Set<string>();
  for (const op of Object.values(doc.operations)) {
    const ref = op.action === 'send' ? op.channel.$ref : op.reply?.channel.$ref;
    if (ref) ids.add(ref.replace('#/channels/', ''));
  }
  return [...ids].map((id) => {
    const channel = doc.channels[id]!;
    const pattern = escapeRegExp(channel.address).replace(escapeRegExp('{base}'), escapeRegExp(base)).replace(escapeRegExp('{sketch}'), '[^/]+');
    return { name: id, matches: new RegExp(`^${pattern}$`), checks: new Map(Object.entries(channel.messages).map(([key, m]) => [key, checkOf(m, ajv)])) };
  });
}

describe('the live agent publishes only what docs/asyncapi.yaml declares', () => {
  let broker: Broker;
  let engine: TestDockerEngine;
  let work: { path: string; remove(): Promise<void> };
  let server: TestHttpServer;
  let repo: LocalAptRepo;
  let t: TestAgent;
  let bus: DbusDaemon;
  let nm: NetworkManagerMock;
  let signed: (name: string, content: string) => Promise<string>;
  const savedAptConfig = process.env.APT_CONFIG;
  const aptPackage = `ac-asyncapi-${randomBytes(3).toString('hex')}`;
  /** Every message the agent published under its base topic, in order. */
  const seen: { topic: string; payload: Buffer }[] = [];
  /** Answers per command: how many INFO and ERROR. */
  const answered = new Map<CommandName, { info: number; error: number }>();

  before(async () => {
    work = await tempDir('ac-asyncapi-');
    const www = join(work.path, 'www');
    const aptDir = join(work.path, 'apt');
    await mkdir(www);
    await mkdir(join(aptDir, 'sources.list.d'), { recursive: true });
    await writeFile(join(aptDir, 'sources.list'), seedSourcesList);
    const keys = await makeKeyPair(work.path);
    server = await startHttpServer({ folder: www });
    signed = async (name, content) => {
      await writeFile(join(www, name), content, { mode: 0o755 });
      await signFile(keys.privateKeyPath, join(www, name));
      return server.url(`/${name}`);
    };
    repo = await createLocalAptRepo();
    await repo.add({ name: aptPackage, version: '1.0' });
    await repo.publish();
    process.env.APT_CONFIG = repo.env.APT_CONFIG;
    engine = await startDockerEngine();
    broker = await startMosquitto();
    bus = await startDbusDaemon();
    nm = await startNetworkManagerMock(bus);
    await nm.keepAddedSettings();
    const wlan = await nm.addWiFiDevice('wlan0', 'wlp2s0', DeviceState.DISCONNECTED);
    await nm.addAccessPoint(wlan, 'ap0', { ssid: 'Lab', hwAddress: 'de:ad:be:ef:00:01', mode: 2, frequency: 2437, maxBitrate: 130000, strength: 67, security: AP_SEC_KEY_MGMT_PSK });
    await nm.addEthernetDevice('eth0', 'enp1s0', DeviceState.ACTIVATED);
    t = await startTestAgent(
      broker.url,
      { signature_key: keys.publicKeyPath, apt_config_dir: aptDir, heartbeat_interval: 1 },
      {
        featureOptions: {
          containers: { socketPath: engine.socketPath, dockerConfigPath: join(work.path, 'docker/config.json'), progressIntervalMs: 0 },
          network: { systemBusAddress: bus.address },
        },
      },
    );
    await t.client.follow(`${t.agent.base}/#`, (topic, payload) => void seen.push({ topic, payload: Buffer.from(payload) }));
  });

  after(async () => {
    await t?.stop();
    await nm?.stop();
    await bus?.close();
    await broker?.close();
    await engine?.close();
    await server?.close();
    await repo?.remove();
    await work?.remove();
    if (savedAptConfig === undefined) delete process.env.APT_CONFIG;
    else process.env.APT_CONFIG = savedAptConfig;
  });

  /** Sends a request as given (valid or not) and waits for its answer on B/<command>. */
  async function send(command: CommandName, request: unknown): Promise<{ ok: boolean; text: string }> {
    const answerTopic = topics.answer(t.agent.base, command);
    const before = seen.filter((m) => m.topic === answerTopic).length;
    const reply = await t.client.callRaw(command, typeof request === 'string' ? request : JSON.stringify(request), 120_000);
    const onTopic = await waitFor(() => {
      const all = seen.filter((m) => m.topic === answerTopic);
      return all.length > before ? all : undefined;
    }, `the answer of ${command} on ${answerTopic}`);
    const count = answered.get(command) ?? { info: 0, error: 0 };
    count[reply.ok ? 'info' : 'error']++;
    answered.set(command, count);
    return { ok: reply.ok, text: onTopic[onTopic.length - 1]!.payload.toString('utf8') };
  }
  const valid = <K extends CommandName>(command: K, request: RequestOf<K>) => send(command, request);

  it('answers valid and invalid requests of every family', async () => {
    // status and sketches: a signed sketch that echoes its input, driven through its life.
    await send('status', {});
    await send('status', '[]');
    const url = await signed('echo.sh', '#!/bin/sh\necho started\nwhile read line; do echo "got $line"; done\n');
    const upload = await valid('upload', { url, name: 'echo', id: 'echo' });
    assert.ok(upload.ok, upload.text);
    await waitFor(() => seen.some((m) => m.topic === topics.sketchStdout(t.agent.base, 'echo')), 'the sketch output');
    await t.client.publish(topics.sketchStdin(t.agent.base, 'echo'), 'hello\n');
    await waitFor(() => seen.some((m) => m.topic === topics.sketchStdout(t.agent.base, 'echo') && m.payload.includes('got hello')), 'the echo');
    await send('upload', { url: server.url('/missing'), name: 'x' });
    await send('upload', { url: 'file:///etc/passwd', name: 'x' });
    for (const action of ['PAUSE', 'START', 'STOP', 'DELETE'] as const) await valid('sketch', { id: 'echo', action });
    await send('sketch', { id: 'echo', action: 'DELETE' });
    await send('sketch', { id: 'echo', action: 'JUMP' });
    // stats
    await send('stats', {});
    await send('stats', 'not json');
    // apt, on the local repository (nothing installed: dpkg's lock stays with test/commands/apt.test.ts)
    await send('apt/update', {});
    await send('apt/get', { package: aptPackage });
    await send('apt/get', { package: '-oAPT::Get' });
    await send('apt/list', { search: aptPackage });
    await send('apt/list', {});
    await send('apt/list', { page: -1 });
    await send('apt/install', { packages: [] });
    await send('apt/upgrade', { packages: ['--purge'] });
    await send('apt/remove', { packages: 'x' });
    // apt-repos, on copies of sources files
    const repository = { enabled: true, sourceRepo: false, options: '', uri: 'http://deb.example.invalid/debian', distribution: 'stable', components: 'main', comment: '' };
    await send('apt/repos/list', {});
    await valid('apt/repos/add', { repository });
    await send('apt/repos/add', { repository });
    await valid('apt/repos/edit', { old_repository: repository, new_repository: { ...repository, comment: 'edited' } });
    await send('apt/repos/edit', { old_repository: repository });
    await valid('apt/repos/remove', { repository: { ...repository, comment: 'edited' } });
    await send('apt/repos/remove', { repository: { enabled: true } });
    // containers, on the engine and its registry
    const name = `ac-asyncapi-${randomBytes(3).toString('hex')}`;
    const run = await valid('containers/action', {
      action: 'run',
      image: engine.registryImage,
      name,
      background: true,
      user: engine.registry.user,
      password: engine.registry.password,
      container_config: { Cmd: SLEEPER_CMD },
      host_config: { NetworkMode: 'none' },
    });
    assert.ok(run.ok, run.text);
    await send('containers/ps', {});
    await send('containers/ps', { id: name });
    await send('containers/images', {});
    await send('containers/images', { name: 7 });
    await valid('containers/rename', { id: name, name: `${name}-2` });
    await send('containers/rename', { id: name });
    await valid('containers/action', { action: 'stop', id: `${name}-2` });
    await valid('containers/action', { action: 'remove', id: `${name}-2` });
    await send('containers/action', { action: 'start', id: `${name}-2` });
    await send('containers/action', { action: 'fly' });
    // network: a profile added and one NetworkManager cannot place, and requests that are not ones
    await valid('wifi', { ssid: 'Lab', password: 'correct horse' });
    await valid('ethernet', { method: 'manual', address: '192.168.7.2', prefix: 24, gateway: '192.168.7.1', dns: ['192.168.7.1'] });
    await send('wifi', { ssid: 'Nowhere', password: 'correct horse' });
    await send('wifi', { ssid: 'Lab', password: 'short' });
    await send('ethernet', {});

    // update: a release that is not there, and a request that is not one
    await send('update', { url: server.url('/missing.tar.gz'), signature: 'QUJD' });
    await send('update', { url: 'ftp://x/y' });

    for (const command of commandNames) assert.ok(answered.has(command), `no request of ${command} was sent`);
    const perFamily = new Map<Family, { info: number; error: number }>();
    for (const [command, count] of answered) {
      const family = perFamily.get(familyOf(command)) ?? { info: 0, error: 0 };
      family.info += count.info;
      family.error += count.error;
      perFamily.set(familyOf(command), family);
    }
    for (const [family, count] of perFamily) {
      assert.ok(count.error > 0, `no ERROR answer of family ${family}`);
      // A successful update restarts the agent into a signed release: not part of this test.
      if (family !== 'update') assert.ok(count.info > 0, `no INFO answer of family ${family}`);
    }
  });

  it('published nothing that the document does not declare', async () => {
    await waitFor(() => seen.some((m) => m.topic === topics.heartbeat(t.agent.base)), 'a heartbeat');
    const doc = parseYaml(await readFile(documentPath, 'utf8')) as Doc;
    const channels = publishedChannels(doc, t.agent.base, new Ajv({ allErrors: true }));
    const problems: string[] = [];
    const kinds = new Map<string, number>();
    for (const { topic, payload } of seen) {
      if (topic.endsWith('/post') || topic.endsWith('/stdin')) continue; // the test's own requests and input
      const candidates = channels.filter((c) => c.matches.test(topic));
      if (candidates.length === 0) {
        problems.push(`${topic}: no channel of the document`);
        continue;
      }
      const verdicts = candidates.flatMap((c) => [...c.checks].map(([key, check]) => ({ kind: `${c.name}/${key}`, problem: check(payload) })));
      const fit = verdicts.find((v) => v.problem === undefined);
      if (fit) kinds.set(fit.kind, (kinds.get(fit.kind) ?? 0) + 1);
      else problems.push(`${topic} ${JSON.stringify(payload.toString('utf8').slice(0, 300))}: ${verdicts.map((v) => `${v.kind}: ${v.problem}`).join('; ')}`);
    }
    assert.deepEqual(problems, []);
    // The streams this test makes the agent publish were among them.
    // (B/status messages fit status's answer first: the stream's message is the same.)
    for (const kind of ['stream.heartbeat/message', 'stream.sketchStdout/message', 'stream.stdout/message', 'stream.apt.progress/message', 'stream.containers.progress/message']) {
      assert.ok(kinds.has(kind), `no message of ${kind}: ${[...kinds.keys()].join(', ')}`);
    }
    for (const command of commandNames) {
      const id = command.replaceAll('/', '.');
      assert.ok(kinds.has(`${id}.answer/info`) || kinds.has(`${id}.answer/error`), `no answer of ${command} checked`);
    }
  });
});
