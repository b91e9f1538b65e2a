// containers/* through a real mosquitto and the real agent, on a real Docker engine started in
// temporary folders, with a private registry (htpasswd) holding a busybox image. Answers are
// compared with what the docker CLI says about the same engine, as the Go agent's functional
// tests did.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeBody, decodeStream, topics, type CommandName, type ContainerActionResult, type RequestOf } from '../../src/api.js';
import { DOCKER_HUB, registryOf } from '../../src/system/docker-config.js';
import { DEFAULT_DOCKER_SOCKET, resolveDockerEndpoint, splitReference } from '../../src/system/docker.js';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import { startDockerEngine, type TestDockerEngine } from '../helpers/docker-engine.js';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { freePort } from '../helpers/net.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const uniqueName = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

interface Inspection {
  Id: string;
  Name: string;
  Config: { Image: string; Labels: Record<string, string> | null; Env: string[] | null };
  HostConfig: { PublishAllPorts: boolean; NetworkMode: string; PortBindings: Record<string, unknown> | null };
  State: { Running: boolean; Status: string };
}

describe('containers on a real Docker engine', () => {
  let engine: TestDockerEngine;
  let broker: Broker;
  let t: TestAgent;
  let configDir: { path: string; remove(): Promise<void> };
  let dockerConfigPath: string;
  const progress: string[] = [];

  const ok = async <K extends CommandName>(command: K, request: RequestOf<K>): Promise<unknown> => {
    const reply = await t.client.call(command, request, 60_000);
    assert.ok(reply.ok, `${command} answered ERROR: ${!reply.ok ? reply.message : ''}`);
    return decodeBody(reply.body);
  };
  const refused = async <K extends CommandName>(command: K, request: RequestOf<K>): Promise<string> => {
    const reply = await t.client.call(command, request, 60_000);
    assert.ok(!reply.ok, `${command} should have answered ERROR, got INFO: ${reply.ok ? reply.body : ''}`);
    return reply.message;
  };
  const act = async (request: RequestOf<'containers/action'>): Promise<ContainerActionResult> => {
    const body = (await ok('containers/action', request)) as ContainerActionResult[];
    assert.ok(Array.isArray(body) && body.length === 1, `one result: ${JSON.stringify(body)}`);
    return body[0]!;
  };
  /** A run of the registry's image with the right credentials (each run logs in and pulls). */
  const runFromRegistry = (name: string, extra: Partial<RequestOf<'containers/action'>> = {}) =>
    runRequest(engine.registryImage, name, { user: engine.registry.user, password: engine.registry.password, ...extra });
  const runRequest = (image: string, name: string, extra: Partial<RequestOf<'containers/action'>> = {}): RequestOf<'containers/action'> => ({
    action: 'run',
    image,
    name,
    background: true,
    ...extra,
    host_config: { NetworkMode: 'none', ...(extra.host_config ?? {}) },
  });
  const inspect = async (id: string): Promise<Inspection> => (JSON.parse(await engine.docker(['inspect', id])) as Inspection[])[0]!;
  const cliContainerIds = async (): Promise<string[]> =>
    (await engine.docker(['ps', '-a', '--no-trunc', '--format', '{{.ID}}'])).split('\n').filter(Boolean);
  const cliImages = async (): Promise<{ ID: string; Repository: string; Tag: string }[]> =>
    (await engine.docker(['images', '--no-trunc', '--format', '{{json .}}']))
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { ID: string; Repository: string; Tag: string });
  const hasImage = async (reference: string) => (await cliImages()).some((i) => `${i.Repository}:${i.Tag}` === reference);
  const untag = async (reference: string) => {
    if (await hasImage(reference)) await engine.docker(['rmi', reference]);
  };
  let tinyImageId: string;
  const storedAuths = async (): Promise<Record<string, { auth?: string }>> =>
    (JSON.parse(await readFile(dockerConfigPath, 'utf8')) as { auths: Record<string, { auth?: string }> }).auths;

  before(async () => {
    engine = await startDockerEngine();
    broker = await startMosquitto();
    configDir = await tempDir('ac-docker-config-');
    dockerConfigPath = join(configDir.path, 'docker', 'config.json');
    t = await startTestAgent(broker.url, {}, {
      featureOptions: { containers: { socketPath: engine.socketPath, dockerConfigPath, progressIntervalMs: 0 } },
    });
    await t.client.follow(topics.containersProgress(t.agent.base), (_topic, payload) => progress.push(payload.toString()));
    // A container that keeps the tiny image in use, so the prune after a remove never deletes it
    // (the engine's prune still untags all but one of its names; runs pull it again).
    await engine.docker(['create', '--network', 'none', '--name', uniqueName('ac-keeper'), engine.localImage]);
    tinyImageId = (await engine.docker(['image', 'inspect', '--format', '{{.Id}}', engine.localImage])).trim();
  });
  after(async () => {
    await t?.stop();
    await broker?.close();
    await engine?.close();
    await configDir?.remove();
  });

  it('ps passes the engine list through, the same containers as docker ps -a', async () => {
    await act(runFromRegistry(uniqueName('ac-ps')));
    const answer = (await ok('containers/ps', {})) as { Id: string; Names: string[]; State: string; Image: string }[];
    const cli = (await engine.docker(['ps', '-a', '--no-trunc', '--format', '{{json .}}']))
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { ID: string; Names: string; State: string; Image: string });
    assert.ok(cli.length >= 2);
    assert.deepEqual(
      answer.map((c) => [c.Id, c.Names.map((n) => n.replace(/^\//, '')).join(','), c.State, c.Image]),
      cli.map((c) => [c.ID, c.Names, c.State, c.Image]),
    );
  });

  it('ps with an id answers only that container, and [] for an id nobody has', async () => {
    const run = await act(runFromRegistry(uniqueName('ac-ps-id')));
    const answer = (await ok('containers/ps', { id: run.id })) as { Id: string; Names: string[] }[];
    assert.equal(answer.length, 1);
    assert.equal(answer[0]!.Id, run.id);
    assert.deepEqual(answer[0]!.Names, [`/${run.name}`]);
    assert.deepEqual(await ok('containers/ps', { id: 'f'.repeat(64) }), []);
  });

  it('images passes the engine list through, the same images as docker images; name filters', async () => {
    const answer = (await ok('containers/images', {})) as { Id: string; RepoTags: string[] | null }[];
    const cli = await cliImages();
    assert.deepEqual(new Set(answer.map((i) => i.Id)), new Set(cli.map((i) => i.ID)));
    const tags = (answer.flatMap((i) => i.RepoTags ?? [])).sort();
    assert.deepEqual(tags, cli.map((i) => `${i.Repository}:${i.Tag}`).sort());

    await act(runFromRegistry(uniqueName('ac-images')));
    const one = (await ok('containers/images', { name: engine.registryImage })) as { Id: string; RepoTags: string[] }[];
    assert.equal(one.length, 1);
    assert.equal(one[0]!.Id, tinyImageId);
    assert.ok(one[0]!.RepoTags.includes(engine.registryImage));
    assert.deepEqual(await ok('containers/images', { name: 'nothing-by-this-name:1' }), []);
  });

  it('run creates and starts a container with the request configs passed through, publishing all ports', async () => {
    const name = uniqueName('ac-run');
    const result = await act(runFromRegistry(name, { container_config: { Labels: { 'ac.test': 'run' }, Env: ['GREETING=hello'] } }));
    assert.equal(result.action, 'run');
    assert.equal(result.background, true);
    assert.equal(result.image, engine.registryImage);
    assert.equal(result.name, name);
    assert.match(result.id, /^[0-9a-f]{64}$/);
    assert.equal(result.pull_error, undefined);
    const info = await inspect(result.id);
    assert.equal(info.Name, `/${name}`);
    assert.equal(info.State.Running, true);
    assert.equal(info.Config.Image, engine.registryImage);
    assert.equal(info.Config.Labels?.['ac.test'], 'run');
    assert.ok(info.Config.Env?.includes('GREETING=hello'));
    assert.equal(info.HostConfig.NetworkMode, 'none');
    assert.equal(info.HostConfig.PublishAllPorts, true);

    const bound = await act(runFromRegistry(uniqueName('ac-bound'), { host_config: { PortBindings: { '8080/tcp': [{ HostPort: '' }] } } }));
    const boundInfo = await inspect(bound.id);
    assert.equal(boundInfo.HostConfig.PublishAllPorts, false);
    assert.ok(boundInfo.HostConfig.PortBindings?.['8080/tcp']);
  });

  it('run without a name answers the name the engine chose', async () => {
    const request = runFromRegistry('');
    delete request.name;
    const result = await act(request);
    const info = await inspect(result.id);
    assert.ok(result.name.length > 0);
    assert.equal(`/${result.name}`, info.Name);
  });

  it('stop, stop of a stopped container, start, rename and remove', async () => {
    const name = uniqueName('ac-life');
    const run = await act(runFromRegistry(name));
    const expected = { background: true, id: run.id, image: engine.registryImage, name };

    assert.deepEqual(await act({ action: 'stop', id: run.id }), { action: 'stop', ...expected });
    assert.equal((await inspect(run.id)).State.Running, false);
    // Stopping a stopped container is not an error (the engine's 304).
    assert.deepEqual(await act({ action: 'stop', id: run.id }), { action: 'stop', ...expected });
    assert.equal((await inspect(run.id)).State.Running, false);

    // An id prefix is enough, as with the docker CLI; the answer carries the full id.
    assert.deepEqual(await act({ action: 'start', id: run.id.slice(0, 12) }), { action: 'start', ...expected });
    assert.equal((await inspect(run.id)).State.Running, true);

    const newName = uniqueName('ac-renamed');
    assert.deepEqual(await ok('containers/rename', { id: run.id, name: newName }), { id: run.id, name: newName });
    assert.equal((await inspect(run.id)).Name, `/${newName}`);
    const cliNames = await engine.docker(['ps', '-a', '--no-trunc', '--filter', `id=${run.id}`, '--format', '{{.Names}}']);
    assert.equal(cliNames.trim(), newName);

    const removed = await act({ action: 'remove', id: run.id });
    assert.equal(removed.action, 'remove');
    assert.equal(removed.id, run.id);
    assert.equal(removed.name, newName);
    assert.ok(removed.pruned && Array.isArray(removed.pruned.images));
    assert.ok(!(await cliContainerIds()).includes(run.id));
    // The tiny image is still used by the keeper container, so the prune left it.
    assert.ok((await cliImages()).some((i) => i.ID === tinyImageId));
  });

  it('remove forces a running container away and prunes the images no container uses', async () => {
    const image = 'ac-test-prunable:1';
    const keeper = (await engine.docker(['ps', '-a', '--no-trunc', '--filter', 'name=ac-keeper', '--format', '{{.ID}}'])).trim();
    await engine.docker(['commit', keeper, image]);
    const id = (await engine.docker(['run', '-d', '--network', 'none', '--name', uniqueName('ac-prune'), image])).trim();
    assert.equal((await inspect(id)).State.Running, true);

    const removed = await act({ action: 'remove', id });
    assert.equal(removed.image, image);
    assert.ok(removed.pruned?.images.includes(`untagged: ${image}`), JSON.stringify(removed.pruned));
    assert.ok(removed.pruned?.images.some((line) => line.startsWith('deleted: sha256:')));
    assert.ok(!(await cliContainerIds()).includes(id));
    assert.equal(await hasImage(image), false);
    assert.ok((await cliImages()).some((i) => i.ID === tinyImageId));
  });

  it('run pulls from a private registry with credentials, saving them 0600 when asked', async () => {
    // Other content of the config file must survive.
    await mkdir(join(configDir.path, 'docker'), { recursive: true });
    await writeFile(dockerConfigPath, JSON.stringify({ auths: { 'other.example:5000': { auth: 'eDp5' } }, detachKeys: 'ctrl-x' }));
    await untag(engine.registryImage);
    progress.length = 0;

    const { registry } = engine;
    const result = await act(
      runRequest(engine.registryImage, uniqueName('ac-pulled'), { user: registry.user, password: registry.password, save_registry_credentials: true }),
    );
    assert.equal(result.pull_error, undefined);
    assert.equal(await hasImage(engine.registryImage), true);
    assert.equal((await inspect(result.id)).Config.Image, engine.registryImage);

    const mode = (await stat(dockerConfigPath)).mode & 0o777;
    assert.equal(mode, 0o600);
    const saved = JSON.parse(await readFile(dockerConfigPath, 'utf8')) as { auths: Record<string, { auth: string }>; detachKeys: string };
    assert.equal(Buffer.from(saved.auths[registry.address]!.auth, 'base64').toString(), `${registry.user}:${registry.password}`);
    assert.equal(saved.auths['other.example:5000']?.auth, 'eDp5');
    assert.equal(saved.detachKeys, 'ctrl-x');
    // The password never reaches the log.
    assert.ok(!t.logs.some((line) => line.includes(registry.password)));

    const events = await waitFor(() => {
      const parsed = progress.map((p) => decodeStream('containers/progress', p));
      return parsed.some((e) => e.status === 'pulled') ? parsed : undefined;
    }, 'the pull progress');
    assert.ok(events.every((e) => e.image === engine.registryImage));
    assert.ok(events.some((e) => /Pulling from|Digest|Status/.test(e.status)), JSON.stringify(events));
  });

  const storeCredentials = async () => {
    // As `docker login` leaves them.
    await mkdir(join(configDir.path, 'docker'), { recursive: true });
    const auth = Buffer.from(`${engine.registry.user}:${engine.registry.password}`).toString('base64');
    await writeFile(dockerConfigPath, JSON.stringify({ auths: { [engine.registry.address]: { auth }, 'other.example:5000': { auth: 'eDp5' } } }), { mode: 0o600 });
  };

  it('run uses the stored credentials when the request carries none', async () => {
    await storeCredentials();
    await untag(engine.registryImage);
    const result = await act(runRequest(engine.registryImage, uniqueName('ac-stored')));
    assert.equal(result.pull_error, undefined);
    assert.equal(await hasImage(engine.registryImage), true);
  });

  it('a wrong password answers ERROR, runs nothing and clears the stored credentials', async () => {
    await storeCredentials();
    const before = await cliContainerIds();
    const message = await refused(
      'containers/action',
      runRequest(engine.registryImage, uniqueName('ac-wrong'), { user: engine.registry.user, password: 'wrong-password' }),
    );
    assert.match(message, /login to 127\.0\.0\.1:\d+ failed/);
    assert.match(message, /401|unauthorized/i);
    assert.match(message, /stored credentials .* were removed/);
    assert.deepEqual(await cliContainerIds(), before);
    const auths = await storedAuths();
    assert.equal(auths[engine.registry.address], undefined);
    assert.equal(auths['other.example:5000']?.auth, 'eDp5');
    assert.ok(!t.logs.some((line) => line.includes('wrong-password')));
  });

  it('a pull of an image the registry does not have answers ERROR and creates nothing', async () => {
    const before = await cliContainerIds();
    const image = `${engine.registry.address}/does-not-exist:1`;
    const message = await refused(
      'containers/action',
      runRequest(image, uniqueName('ac-missing'), { user: engine.registry.user, password: engine.registry.password }),
    );
    assert.match(message, /pull of .*does-not-exist:1 failed/);
    assert.match(message, /not found|manifest unknown/);
    assert.match(message, /no local copy/);
    assert.deepEqual(await cliContainerIds(), before);
  });

  it('an error inside the pull stream (HTTP 200) is a failure, not a success', async () => {
    const image = await engine.pushImageWithMissingLayer('ac-broken');
    const before = await cliContainerIds();
    progress.length = 0;
    const message = await refused(
      'containers/action',
      runRequest(image, uniqueName('ac-broken'), { user: engine.registry.user, password: engine.registry.password }),
    );
    assert.match(message, /unknown blob/);
    assert.match(message, /no local copy/);
    assert.deepEqual(await cliContainerIds(), before);
    assert.equal(await hasImage(image), false);
    // The stream had started (progress was published) before the engine reported the error.
    await waitFor(() => progress.some((p) => p.includes('pull failed')), 'the pull failure on the progress topic');
    assert.ok(progress.some((p) => p.includes('Pulling fs layer')));
  });

  it('when the pull fails but the image is on the device, the local copy runs (offline device)', async () => {
    const image = `127.0.0.1:${await freePort()}/ac-offline:1`;
    await engine.docker(['tag', tinyImageId, image]);
    const result = await act(runRequest(image, uniqueName('ac-offline')));
    assert.match(result.pull_error ?? '', /pull of .* failed: .*(connection refused|dial tcp)/);
    assert.equal((await inspect(result.id)).State.Running, true);
    assert.ok(t.logs.some((line) => line.includes(`running the local copy of ${image}`)));
  });

  it('a name clash on run answers ERROR and leaves the existing container alone', async () => {
    const name = uniqueName('ac-clash');
    const first = await act(runFromRegistry(name));
    const before = await cliContainerIds();
    const message = await refused('containers/action', runFromRegistry(name));
    assert.match(message, /container create failed: .*(Conflict|already in use)/);
    assert.deepEqual(await cliContainerIds(), before);
    const info = await inspect(name);
    assert.equal(info.Id, first.id);
    assert.equal(info.State.Running, true);
  });

  it('a container that fails to start is removed again', async () => {
    const name = uniqueName('ac-nostart');
    const before = await cliContainerIds();
    const message = await refused('containers/action', runFromRegistry(name, { container_config: { Cmd: ['/bin/not-there'] } }));
    assert.match(message, /container start failed: .*not-there/);
    assert.match(message, /the container was removed/);
    assert.deepEqual(await cliContainerIds(), before);
  });

  it('refuses bad requests with ERROR, changes nothing, keeps serving', async () => {
    const running = await act(runFromRegistry(uniqueName('ac-bad')));
    const before = await cliContainerIds();

    const unknownAction = await t.client.callRaw('containers/action', JSON.stringify({ action: 'explode', id: running.id }));
    assert.ok(!unknownAction.ok && /action/.test(unknownAction.message), JSON.stringify(unknownAction));
    for (const action of ['start', 'stop', 'remove'] as const) {
      assert.match(await refused('containers/action', { action }), new RegExp(`action ${action} needs "id"`));
      assert.match(await refused('containers/action', { action, id: 'no-such-container' }), /No such container/);
    }
    assert.match(await refused('containers/action', { action: 'run' }), /needs "image"/);
    assert.match(await refused('containers/action', runRequest('UPPER/case:1', uniqueName('ac-bad'))), /pull of .* failed: .*invalid reference format/);
    const raw = async (command: CommandName, request: unknown) => {
      const reply = await t.client.callRaw(command, JSON.stringify(request));
      assert.ok(!reply.ok, `${command} ${JSON.stringify(request)} answered INFO`);
      return reply.message;
    };
    assert.match(await raw('containers/action', { action: 'run', image: 'not a reference' }), /image.*must be an image reference/);
    assert.match(await raw('containers/action', { action: 'run', image: '../../containers/json' }), /image.*must be an image reference/);
    assert.match(await raw('containers/action', { action: 'remove', id: '../../images/x' }), /id.*must be a container id/);
    assert.match(await raw('containers/action', { action: 'run', image: engine.registryImage, name: 'bad name' }), /name.*must be a container name/);
    assert.match(await raw('containers/rename', { id: running.id, name: 'bad/name' }), /name.*must be a container id or name/);
    assert.match(await refused('containers/action', { action: 'run', image: engine.registryImage, user: 'only-user' }), /go together/);
    assert.match(await refused('containers/rename', { id: 'no-such-container', name: 'x' }), /No such container/);
    // The engine's own rule: a name of one character is refused by it, not by the validator.
    assert.match(await refused('containers/rename', { id: running.id, name: 'a' }), /rename failed: .*[Ii]nvalid/);
    const badJson = await t.client.callRaw('containers/ps', '{test}');
    assert.ok(!badJson.ok && /JSON/.test(badJson.message));

    assert.deepEqual(await cliContainerIds(), before);
    assert.equal((await inspect(running.id)).State.Running, true);
    assert.ok((await t.client.call('status', {})).ok);
  });

  it('is unavailable while no engine answers at the socket, and serves once one does', async () => {
    const late = join(configDir.path, 'late.sock');
    const other = await startTestAgent(broker.url, {}, { featureOptions: { containers: { socketPath: late, dockerConfigPath } } });
    try {
      const before = await other.client.call('containers/ps', {});
      assert.match(before.ok ? '' : before.message, /^containers unavailable: no container engine at .*late\.sock/);
      assert.ok((await other.client.call('status', {})).ok);
      // The engine's socket appears where the agent looks (as when dockerd starts after the agent).
      await symlink(engine.socketPath, late);
      const after = await other.client.call('containers/ps', {});
      assert.ok(after.ok, after.ok ? '' : after.message);
      assert.ok(Array.isArray(decodeBody(after.body)));
    } finally {
      await other.stop();
    }
  });
});

describe('containers without an engine', () => {
  let broker: Broker;
  let t: TestAgent;
  let dir: { path: string; remove(): Promise<void> };
  let socketPath: string;

  before(async () => {
    broker = await startMosquitto();
    dir = await tempDir('ac-no-engine-');
    socketPath = join(dir.path, 'docker.sock');
    t = await startTestAgent(
      broker.url,
      // Through the setting, as a device's config file would name it.
      { docker_host: `unix://${socketPath}` },
      { featureOptions: { containers: { dockerConfigPath: join(dir.path, 'config.json') } } },
    );
  });
  after(async () => {
    await t?.stop();
    await broker?.close();
    await dir?.remove();
  });

  it('answers every container command with ERROR naming the socket, and the rest still works', async () => {
    const requests: [CommandName, unknown][] = [
      ['containers/ps', {}],
      ['containers/images', {}],
      ['containers/action', { action: 'run', image: 'busybox' }],
      ['containers/action', { action: 'stop', id: 'abc' }],
      ['containers/rename', { id: 'abc', name: 'def' }],
    ];
    for (const [command, request] of requests) {
      const reply = await t.client.callRaw(command, JSON.stringify(request));
      assert.ok(!reply.ok, `${command} answered INFO`);
      assert.match(reply.message, new RegExp(`^containers unavailable: no container engine at ${socketPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*ENOENT`));
    }
    const status = await t.client.call('status', {});
    assert.ok(status.ok);
  });

  it('says so too when the socket is there but no engine listens (a stopped dockerd)', async () => {
    const stale = join(dir.path, 'stale.sock');
    // A file at the socket path that nothing listens on, as a crashed dockerd can leave behind.
    await writeFile(stale, '');
    const other = await startTestAgent(broker.url, {}, {
      featureOptions: { containers: { socketPath: stale, dockerConfigPath: join(dir.path, 'config.json') } },
    });
    try {
      const reply = await other.client.call('containers/ps', {});
      assert.ok(!reply.ok);
      assert.match(reply.message, /^containers unavailable: no container engine at .*stale\.sock: connect (ECONNREFUSED|ENOTSOCK)/);
      assert.ok((await other.client.call('status', {})).ok);
    } finally {
      await other.stop();
    }
  });
});

describe('containers with an engine that does not answer', () => {
  let broker: Broker;
  let dir: { path: string; remove(): Promise<void> };

  before(async () => {
    broker = await startMosquitto();
    dir = await tempDir('ac-hung-engine-');
  });
  after(async () => {
    await broker?.close();
    await dir?.remove();
  });

  it('answers ERROR when the engine accepts but never answers, and closes its connections', async () => {
    // A hung dockerd: the socket accepts connections and reads requests, but nothing comes back.
    const socketPath = join(dir.path, 'hung.sock');
    const open = new Set<Socket>();
    const server = createNetServer((socket) => {
      open.add(socket);
      socket.on('close', () => open.delete(socket));
      socket.resume();
    });
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    const t = await startTestAgent(broker.url, {}, {
      featureOptions: { containers: { socketPath, engineCallTimeoutMs: 300, dockerConfigPath: join(dir.path, 'config.json') } },
    });
    try {
      const requests: [CommandName, unknown, string][] = [
        ['containers/ps', {}, 'container list failed'],
        ['containers/images', {}, 'image list failed'],
        ['containers/action', { action: 'stop', id: 'abc' }, 'container inspect failed'],
        ['containers/rename', { id: 'abc', name: 'def' }, 'container rename failed'],
        ['containers/action', { action: 'run', image: 'busybox' }, 'pull of busybox failed'],
        ['containers/action', { action: 'run', image: 'busybox', user: 'u', password: 'p' }, `login to ${DOCKER_HUB} failed`],
      ];
      for (const [command, request, what] of requests) {
        const reply = await t.client.callRaw(command, JSON.stringify(request), 30_000);
        assert.ok(!reply.ok, `${command} answered INFO`);
        assert.equal(reply.message, `containers unavailable: no container engine at ${socketPath}: ${what}: no answer within 300 ms`);
      }
      assert.ok((await t.client.call('status', {})).ok);
      // Every abandoned request closed its connection: none piles up on the engine.
      await waitFor(() => open.size === 0, 'the connections to the hung engine to close');
    } finally {
      await t.stop();
      for (const socket of open) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('gives a pull that stalls its own deadline, then answers that no local copy exists', async () => {
    // An engine that starts the pull's progress stream and then sends nothing more (a stalled
    // registry download), and has no local copy of the image.
    const socketPath = join(dir.path, 'stalled.sock');
    let pullClosed = false;
    const open = new Set<Socket>();
    const server = createHttpServer((request, response) => {
      // An engine that hangs on this image's inspection.
      if (request.url?.includes('/images/hangs/json')) return;
      if (request.method === 'POST' && request.url?.includes('/images/create')) {
        response.writeHead(200, { 'Content-Type': 'application/json' });
        response.write(`${JSON.stringify({ status: 'Pulling from library/busybox', id: 'latest' })}\n`);
        request.socket.on('close', () => (pullClosed = true));
        return;
      }
      response.writeHead(404, { 'Content-Type': 'application/json' });
      response.end(JSON.stringify({ message: 'No such image: busybox:latest' }));
    });
    server.on('connection', (socket: Socket) => {
      open.add(socket);
      socket.on('close', () => open.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    const t = await startTestAgent(broker.url, {}, {
      featureOptions: { containers: { socketPath, engineCallTimeoutMs: 2000, pullTimeoutMs: 500, dockerConfigPath: join(dir.path, 'config.json') } },
    });
    const progress: string[] = [];
    await t.client.follow(topics.containersProgress(t.agent.base), (_topic, payload) => progress.push(payload.toString()));
    try {
      const reply = await t.client.callRaw('containers/action', JSON.stringify({ action: 'run', image: 'busybox' }), 30_000);
      assert.ok(!reply.ok);
      assert.equal(reply.message, 'pull of busybox failed: not done within 500 ms (and there is no local copy of busybox)');
      await waitFor(() => pullClosed, 'the stalled pull connection to close');
      await waitFor(() => progress.some((p) => p.includes('pull failed')), 'the pull failure on the progress topic');
      // The look for a local copy has the call deadline too.
      const hangs = await t.client.callRaw('containers/action', JSON.stringify({ action: 'run', image: 'hangs' }), 30_000);
      assert.ok(!hangs.ok);
      assert.equal(hangs.message, `containers unavailable: no container engine at ${socketPath}: image inspect failed: no answer within 2 s`);
      await waitFor(() => open.size === 0, 'every connection to the engine to close');
      assert.ok((await t.client.call('status', {})).ok);
    } finally {
      await t.stop();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('container engine addressing', () => {
  it('takes the configured socket, else DOCKER_HOST, else /var/run/docker.sock', () => {
    assert.deepEqual(resolveDockerEndpoint('/run/x.sock', { DOCKER_HOST: 'unix:///other' }), { kind: 'unix', socketPath: '/run/x.sock' });
    assert.deepEqual(resolveDockerEndpoint('unix:///run/y.sock', {}), { kind: 'unix', socketPath: '/run/y.sock' });
    assert.deepEqual(resolveDockerEndpoint('', { DOCKER_HOST: 'unix:///run/z.sock' }), { kind: 'unix', socketPath: '/run/z.sock' });
    assert.deepEqual(resolveDockerEndpoint('', { DOCKER_HOST: 'tcp://10.0.0.2:2375' }), { kind: 'tcp', host: '10.0.0.2', port: 2375 });
    assert.deepEqual(resolveDockerEndpoint(undefined, {}), { kind: 'unix', socketPath: DEFAULT_DOCKER_SOCKET });
    assert.throws(() => resolveDockerEndpoint('ssh://host', {}), /unsupported container engine address/);
  });

  it('finds the registry of an image and its tag as Docker does', () => {
    assert.equal(registryOf('redis'), DOCKER_HUB);
    assert.equal(registryOf('library/redis:7'), DOCKER_HUB);
    assert.equal(registryOf('127.0.0.1:5000/app:1'), '127.0.0.1:5000');
    assert.equal(registryOf('localhost/app'), 'localhost');
    assert.equal(registryOf('123.dkr.ecr.eu-west-1.amazonaws.com/redis:latest'), '123.dkr.ecr.eu-west-1.amazonaws.com');
    assert.deepEqual(splitReference('redis'), { fromImage: 'redis', tag: 'latest' });
    assert.deepEqual(splitReference('127.0.0.1:5000/app'), { fromImage: '127.0.0.1:5000/app', tag: 'latest' });
    assert.deepEqual(splitReference('127.0.0.1:5000/app:2'), { fromImage: '127.0.0.1:5000/app', tag: '2' });
    assert.deepEqual(splitReference('app@sha256:abc'), { fromImage: 'app', tag: 'sha256:abc' });
  });
});
