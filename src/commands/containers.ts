// containers/ps, containers/images, containers/action and containers/rename, on the Docker Engine
// API. The agent never installs an engine: without one, these four commands answer
// "ERROR: containers unavailable: no container engine at ..." until one answers at the socket, and
// the rest of the agent is untouched.

import { encodeStream, streamTopic, type AnswerOf, type ContainerActionResult, type ContainerProgress, type RequestOf } from '../api.js';
import { FailedError, InvalidError, RefusedError } from '../errors.js';
import { Feature, type CommandTable } from '../feature.js';
import { errorMessage } from '../log.js';
import { DockerConfigFile, defaultDockerConfigPath, registryOf, type RegistryCredentials } from '../system/docker-config.js';
import { DockerEngine, EngineError, EngineUnavailableError, resolveDockerEndpoint, type PullEvent } from '../system/docker.js';
import { pingEngine } from '../system/docker-ping.js';

/** B/<command>/post → the method of ContainersFeature that answers it. */
export const containerCommands = {
  'containers/ps': 'ps',
  'containers/images': 'images',
  'containers/action': 'action',
  'containers/rename': 'rename',
} as const satisfies CommandTable<'containers', ContainersFeature>;

export interface ContainersOptions {
  /** Engine socket (path or unix:// / tcp:// URL); empty: DOCKER_HOST, else /var/run/docker.sock. */
  socketPath: string;
  /** Docker client config file holding registry credentials (where `docker login` keeps them). */
  dockerConfigPath: string;
  /** Least time between two progress messages of one layer (default 500 ms). */
  progressIntervalMs?: number;
  /** Each engine call must be answered within this (default 60 s). */
  engineCallTimeoutMs?: number;
  /** A whole image pull must be done within this (default 30 minutes). */
  pullTimeoutMs?: number;
}

type ActionRequest = RequestOf<'containers/action'>;

export class ContainersFeature extends Feature<ContainersOptions> {
  readonly name = 'containers';
  private readonly endpoint = resolveDockerEndpoint(this.options.socketPath);
  private readonly engine = new DockerEngine(this.endpoint, this.deps.log, {
    callTimeoutMs: this.options.engineCallTimeoutMs,
    pullTimeoutMs: this.options.pullTimeoutMs,
  });
  private readonly credentials = new DockerConfigFile(this.options.dockerConfigPath, this.deps.log);
  private readonly lastProgress = new Map<string, number>();

  /** Whether an engine answers at the socket now (for status's optional parts). */
  engineAnswers(timeoutMs?: number): Promise<boolean> {
    return pingEngine(this.endpoint, timeoutMs);
  }

  ps(request: RequestOf<'containers/ps'>): Promise<AnswerOf<'containers/ps'>> {
    return this.engine.listContainers(request.id);
  }

  images(request: RequestOf<'containers/images'>): Promise<AnswerOf<'containers/images'>> {
    return this.engine.listImages(request.name);
  }

  async action(request: RequestOf<'containers/action'>): Promise<AnswerOf<'containers/action'>> {
    return [await this.act(request)];
  }

  async rename(request: RequestOf<'containers/rename'>): Promise<AnswerOf<'containers/rename'>> {
    await this.engine.renameContainer(request.id, request.name);
    return { id: request.id, name: request.name };
  }

  private async act(request: ActionRequest): Promise<ContainerActionResult> {
    if (request.action === 'run') return this.run(request);
    if (!request.id) throw new InvalidError(`action ${request.action} needs "id": the container to ${request.action}`);
    const container = await this.engine.inspectContainer(request.id);
    const result: ContainerActionResult = {
      action: request.action,
      background: request.background ?? true,
      id: container.id,
      image: container.image,
      name: container.name,
    };
    const { log } = this.deps;
    switch (request.action) {
      case 'start':
        if (!(await this.engine.startContainer(container.id))) log.info(`container ${container.name} was already running`);
        break;
      case 'stop':
        if (!(await this.engine.stopContainer(container.id))) log.info(`container ${container.name} was not running`);
        break;
      case 'remove': {
        await this.engine.removeContainer(container.id);
        try {
          result.pruned = await this.engine.pruneUnusedImages();
        } catch (err) {
          throw new FailedError(`container ${container.name} was removed, but ${errorMessage(err)}`, { cause: err });
        }
        log.info(`removed container ${container.name}; pruned ${result.pruned.images.length} image entries`);
        break;
      }
    }
    return result;
  }

  private async run(request: ActionRequest): Promise<ContainerActionResult> {
    const { image } = request;
    if (!image) throw new InvalidError('action run needs "image": the image to run');
    const { log } = this.deps;

    let pullError: string | undefined;
    let auth: RegistryCredentials | undefined;
    try {
      auth = await this.registryCredentials(request, image);
    } catch (err) {
      // A registry that cannot be reached is an offline device: run what is here, like a failed pull.
      if (!(err instanceof RegistryUnreachable)) throw err;
      pullError = err.message;
    }
    if (pullError === undefined) {
      try {
        await this.engine.pull(image, auth, (event) => this.reportProgress(image, event));
        this.publishProgress({ image, status: 'pulled' });
      } catch (err) {
        if (err instanceof EngineUnavailableError) throw err;
        pullError = errorMessage(err);
      }
    }
    if (pullError !== undefined) {
      this.publishProgress({ image, status: 'pull failed', error: pullError });
      if (!(await this.engine.hasImage(image))) throw new FailedError(`${pullError} (and there is no local copy of ${image})`);
      log.warn(`${pullError}; running the local copy of ${image}`);
    }

    const id = await this.engine.createContainer(request.name || undefined, createBody(request, image));
    try {
      await this.engine.startContainer(id);
    } catch (err) {
      // The container never ran: do not leave it behind under the requested name.
      await this.engine.removeContainer(id).catch((removeErr) => log.warn(`half-made container ${id} not removed: ${errorMessage(removeErr)}`));
      throw new FailedError(`${errorMessage(err)} (the container was removed)`, { cause: err });
    }
    const name = request.name || (await this.engine.inspectContainer(id).then((c) => c.name, () => ''));
    log.info(`started container ${name || id} from ${image}`);
    const result: ContainerActionResult = { action: 'run', background: request.background ?? true, id, image, name };
    if (pullError !== undefined) result.pull_error = pullError;
    return result;
  }

  /**
   * The credentials for the image's registry: the request's (checked with a login first; saved
   * when asked; a refused login clears stored ones), else the stored ones, else none.
   */
  private async registryCredentials(request: ActionRequest, image: string): Promise<RegistryCredentials | undefined> {
    const registry = registryOf(image);
    const { user, password } = request;
    if (!user && !password) {
      if (request.save_registry_credentials) throw new InvalidError('save_registry_credentials needs "user" and "password"');
      return this.credentials.credentialsFor(registry);
    }
    if (!user || !password) throw new InvalidError('"user" and "password" go together: give both or neither');
    const credentials: RegistryCredentials = { username: user, password, serveraddress: registry };
    try {
      await this.engine.login(credentials);
    } catch (err) {
      // The engine reports a refused login as HTTP 500 whose message carries the registry's 401.
      if (err instanceof EngineError && (err.status === 401 || err.status === 403 || REFUSED_LOGIN.test(err.message))) {
        const cleared = await this.credentials.forget(registry).catch((forgetErr) => {
          this.deps.log.warn(`stored credentials for ${registry} not removed: ${errorMessage(forgetErr)}`);
          return false;
        });
        throw new RefusedError(`${err.message}${cleared ? `; the stored credentials for ${registry} were removed` : ''}`);
      }
      if (err instanceof EngineUnavailableError) throw err;
      throw new RegistryUnreachable(errorMessage(err));
    }
    if (request.save_registry_credentials) {
      await this.credentials.save(credentials);
      this.deps.log.info(`saved the credentials for ${registry} in ${this.credentials.path}`);
    }
    return credentials;
  }

  /** Progress bars of running downloads are thinned out per layer; every other event is sent. */
  private reportProgress(image: string, event: PullEvent): void {
    const key = `${image}\0${event.id ?? ''}`;
    if (event.progressDetail?.total) {
      const now = Date.now();
      if (now - (this.lastProgress.get(key) ?? 0) < (this.options.progressIntervalMs ?? 500)) return;
      this.lastProgress.set(key, now);
    } else {
      this.lastProgress.delete(key);
    }
    this.publishProgress({
      image,
      status: event.status ?? '',
      ...(event.id ? { layer: event.id } : {}),
      ...(event.progressDetail?.total ? { current: event.progressDetail.current ?? 0, total: event.progressDetail.total } : {}),
      ...(event.error || event.errorDetail ? { error: event.errorDetail?.message || event.error } : {}),
    });
  }

  private publishProgress(body: ContainerProgress): void {
    const { bus, base, log } = this.deps;
    bus.publish(streamTopic(base, 'containers/progress'), encodeStream('containers/progress', body)).catch((err) => log.debug(`progress not sent: ${errorMessage(err)}`));
  }
}

class RegistryUnreachable extends Error {}

const REFUSED_LOGIN = /\b40[13]\b|unauthorized|denied|incorrect username or password/i;

/** The engine's create body: the request's Docker API shapes, the image, and publish-all-ports
 * when no port bindings are given (as the Go agent did). */
function createBody(request: ActionRequest, image: string): Record<string, unknown> {
  const hostConfig: Record<string, unknown> = { ...(request.host_config ?? {}) };
  const bindings = hostConfig.PortBindings;
  const hasBindings = typeof bindings === 'object' && bindings !== null && Object.keys(bindings).length > 0;
  if (!hasBindings && hostConfig.PublishAllPorts === undefined) hostConfig.PublishAllPorts = true;
  const body: Record<string, unknown> = { ...(request.container_config ?? {}), Image: image, HostConfig: hostConfig };
  if (request.networking_config) body.NetworkingConfig = request.networking_config;
  return body;
}
