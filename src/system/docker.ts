// The Docker Engine API through dockerode. dockerode is imported on first use, so an agent that
// never receives a container command never loads it. Every engine failure becomes a domain error
// whose message the requester can act on: EngineError of the kind its HTTP status means, and
// EngineUnavailableError ("no container engine at <socket>: ...") for an engine that is not there
// or does not answer, on which nothing else of the agent depends.

import type Dockerode from 'dockerode';
import { ConfigError, DomainError, FailedError, InvalidError, TimedOutError, UnavailableError, type FailureKind } from '../errors.js';
import { errorMessage, type Logger } from '../log.js';
import type { RegistryCredentials } from './docker-config.js';
import { describeDuration } from '../lib/run-command.js';

export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

export type DockerEndpoint = { kind: 'unix'; socketPath: string } | { kind: 'tcp'; host: string; port: number };

/**
 * Where the engine listens: the configured value (a socket path, unix:// or tcp:// URL), else
 * DOCKER_HOST, else /var/run/docker.sock.
 */
export function resolveDockerEndpoint(configured: string | undefined, env: NodeJS.ProcessEnv = process.env): DockerEndpoint {
  const value = configured?.trim() || env.DOCKER_HOST?.trim() || DEFAULT_DOCKER_SOCKET;
  if (value.startsWith('unix://')) return { kind: 'unix', socketPath: value.slice('unix://'.length) || DEFAULT_DOCKER_SOCKET };
  // A wrong setting (docker_host or DOCKER_HOST), not a wrong request.
  const unsupported = () => new ConfigError(`unsupported container engine address ${value} (use a socket path, unix:// or tcp://)`);
  if (value.startsWith('tcp://')) {
    let url: URL;
    try {
      url = new URL(value.replace(/^tcp:/, 'http:'));
    } catch {
      throw unsupported();
    }
    return { kind: 'tcp', host: url.hostname, port: Number(url.port || 2375) };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) throw unsupported();
  return { kind: 'unix', socketPath: value };
}

export function describeEndpoint(endpoint: DockerEndpoint): string {
  return endpoint.kind === 'unix' ? endpoint.socketPath : `tcp://${endpoint.host}:${endpoint.port}`;
}

/** No engine answers at the endpoint (missing socket, refused, no permission, hung). */
export class EngineUnavailableError extends UnavailableError {
  constructor(endpoint: string, cause: unknown) {
    super(`no container engine at ${endpoint}: ${errorMessage(cause)}`, { cause });
    this.name = 'EngineUnavailableError';
  }
}

/** What an engine's HTTP status says about the request: 400 a bad parameter (a create body the
 * engine refuses), 404 no such container or image, 409 a name in use or a container in the way. */
export function engineFailureKind(status: number): FailureKind {
  if (status === 400) return 'invalid';
  if (status === 404) return 'not-found';
  if (status === 409) return 'conflict';
  return 'failed';
}

/** The engine answered with an HTTP error; `status` is its code (404 unknown, 409 conflict...),
 * kept because callers tell "already running" (304) or "no such image" (404) from failures. */
export class EngineError extends DomainError {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(engineFailureKind(status), message);
    this.name = 'EngineError';
  }
}

/** One event of a pull's progress stream, as the engine sends it. */
export interface PullEvent {
  status?: string;
  id?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { message?: string };
}

export interface PruneResult {
  /** What was untagged or deleted, as the engine lists it ("untagged: ref", "deleted: sha256:..."). */
  images: string[];
  space_reclaimed: number;
}

/** The fields of a container's inspection that the agent uses (the engine sends many more). */
export interface ContainerIdentity {
  id: string;
  name: string;
  image: string;
  running: boolean;
}

const UNREACHABLE_CODES = new Set(['ENOENT', 'ECONNREFUSED', 'EACCES', 'ENOTSOCK', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ETIMEDOUT', 'ENOTDIR']);

interface DockerodeError {
  code?: string;
  statusCode?: number;
  json?: { message?: string } | null;
  message?: string;
}

/** `name[:tag]` or `name@digest` split as the engine's pull query wants it (no tag: latest). */
export function splitReference(image: string): { fromImage: string; tag: string } {
  const at = image.indexOf('@');
  if (at >= 0) return { fromImage: image.slice(0, at), tag: image.slice(at + 1) };
  const colon = image.lastIndexOf(':');
  // A colon before the last "/" belongs to a registry host:port, not a tag.
  if (colon > image.lastIndexOf('/')) return { fromImage: image.slice(0, colon), tag: image.slice(colon + 1) };
  return { fromImage: image, tag: 'latest' };
}

// dockerode puts ids and names into URL paths unescaped, so whoever calls the adapter, nothing
// that could leave `/containers/<id>/` or `/images/<name>/` gets there: no "/" in a container,
// no ".." or "//" in an image reference, no "%", "?" or "#" in either.
const plainContainer = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const plainImage = /^(?!.*\.\.)(?!.*\/\/)[a-zA-Z0-9][a-zA-Z0-9._\-/:@]*$/;

function checkedPathPart(value: string, what: string, pattern: RegExp, max: number, rule: string): string {
  if (value === '') throw new InvalidError(`${what}: must not be empty`);
  if (value.length > max) throw new InvalidError(`${what}: longer than ${max} characters`);
  if (!pattern.test(value)) throw new InvalidError(`${what}: ${rule}`);
  return value;
}

function checkedContainer(id: string): string {
  return checkedPathPart(id, 'container', plainContainer, 256, 'must be a container id or name (letters, digits, "_", ".", "-")');
}

function checkedImage(image: string): string {
  return checkedPathPart(image, 'image', plainImage, 512, 'must be an image reference such as registry:5000/name:tag');
}

export interface DockerEngineOptions {
  /** Each engine call (list, inspect, create, start, stop, remove, rename, login, prune) must be
   * answered within this (default 60 s); an engine that does not answer counts as unavailable. */
  callTimeoutMs?: number;
  /** A whole pull, progress stream included, must be done within this (default 30 minutes). */
  pullTimeoutMs?: number;
}

export const DEFAULT_ENGINE_CALL_TIMEOUT_MS = 60_000;
export const DEFAULT_PULL_TIMEOUT_MS = 30 * 60_000;

/** The reason a call was abandoned when its time was up. */
class DeadlineExceeded extends Error {}

/** Runs `work` with a signal that aborts after `ms`; rejects with DeadlineExceeded then, even if
 * the work ignores the signal. */
async function withDeadline<T>(ms: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const reason = new DeadlineExceeded(`no answer within ${describeDuration(ms)}`);
      controller.abort(reason);
      reject(reason);
    }, ms);
  });
  try {
    return await Promise.race([work(controller.signal), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

export class DockerEngine {
  private client?: Promise<Dockerode>;
  readonly address: string;
  private readonly callTimeoutMs: number;
  private readonly pullTimeoutMs: number;

  constructor(
    private readonly endpoint: DockerEndpoint,
    private readonly log: Logger,
    options: DockerEngineOptions = {},
  ) {
    this.address = describeEndpoint(endpoint);
    this.callTimeoutMs = options.callTimeoutMs ?? DEFAULT_ENGINE_CALL_TIMEOUT_MS;
    this.pullTimeoutMs = options.pullTimeoutMs ?? DEFAULT_PULL_TIMEOUT_MS;
  }

  private docker(): Promise<Dockerode> {
    this.client ??= import('dockerode').then(({ default: Docker }) =>
      this.endpoint.kind === 'unix'
        ? new Docker({ socketPath: this.endpoint.socketPath })
        : new Docker({ host: this.endpoint.host, port: this.endpoint.port, protocol: 'http' }),
    );
    return this.client;
  }

  /** Runs one engine call within the call time-out; `what` starts the error message ("container
   * start failed: ..."). `fn` passes the signal on as dockerode's `abortSignal`, which closes the
   * connection when the time is up. */
  private async call<T>(what: string, fn: (docker: Dockerode, abortSignal: AbortSignal) => Promise<T>): Promise<T> {
    const docker = await this.docker();
    try {
      return await withDeadline(this.callTimeoutMs, (signal) => fn(docker, signal));
    } catch (err) {
      throw this.translate(what, err);
    }
  }

  private translate(what: string, err: unknown): Error {
    if (err instanceof DomainError) return err;
    // An engine that does not answer cannot be used, as one that is not there.
    if (err instanceof DeadlineExceeded) return new EngineUnavailableError(this.address, `${what}: ${err.message}`);
    const e = (err ?? {}) as DockerodeError;
    if (e.code && UNREACHABLE_CODES.has(e.code)) {
      const hint = e.code === 'EACCES' ? ' (the agent\'s user needs access to the socket, e.g. membership of the docker group)' : '';
      return new EngineUnavailableError(this.address, `${errorMessage(err)}${hint}`);
    }
    if (typeof e.statusCode === 'number') {
      // dockerode prefixes "(HTTP code 500) server error - "; the engine's own message says more.
      const detail = e.json?.message ?? errorMessage(err).replace(/^\(HTTP code \d+\) [^-]*- /, '');
      return new EngineError(`${what}: ${detail.trim()}`, e.statusCode);
    }
    return new FailedError(`${what}: ${errorMessage(err)}`, { cause: err });
  }

  /** `docker ps -a`, optionally only the container with this id (or id prefix). */
  listContainers(id?: string): Promise<unknown[]> {
    return this.call('container list failed', (d, abortSignal) => d.listContainers({ all: true, ...(id ? { filters: { id: [id] } } : {}), abortSignal }));
  }

  /** `docker images`, optionally only images matching this reference. */
  listImages(reference?: string): Promise<unknown[]> {
    return this.call('image list failed', (d, abortSignal) => d.listImages({ ...(reference ? { filters: { reference: [reference] } } : {}), abortSignal }));
  }

  async inspectContainer(id: string): Promise<ContainerIdentity> {
    const info = await this.call('container inspect failed', (d, abortSignal) => d.getContainer(checkedContainer(id)).inspect({ abortSignal }));
    return { id: info.Id, name: info.Name.replace(/^\//, ''), image: info.Config.Image, running: info.State.Running };
  }

  /** True when the engine has the image locally. */
  async hasImage(image: string): Promise<boolean> {
    try {
      // Through the modem: dockerode's image inspect does not pass an abort signal on.
      await this.call(
        'image inspect failed',
        (d, abortSignal) =>
          new Promise((resolve, reject) =>
            d.modem.dial(
              { path: `/images/${checkedImage(image)}/json`, method: 'GET', options: {}, abortSignal, statusCodes: { 200: true, 404: 'no such image', 500: 'server error' } },
              (err, data) => (err ? reject(err) : resolve(data)),
            ),
          ),
      );
      return true;
    } catch (err) {
      // 400: a reference the engine cannot parse names no image it has.
      if (err instanceof EngineError && (err.status === 404 || err.status === 400)) return false;
      throw err;
    }
  }

  /** Checks credentials against the registry (the engine's /auth); throws EngineError on refusal. */
  async login(credentials: RegistryCredentials): Promise<void> {
    await this.call(`login to ${credentials.serveraddress} failed`, (d, abortSignal) => d.checkAuth({ ...credentials, abortSignal }));
  }

  /**
   * Pulls an image, reporting each progress event. The engine answers HTTP 200 and reports many
   * failures (unknown manifest, refused credentials...) inside the stream, so an "error" event
   * fails the pull. The stream is read line by line, never kept.
   */
  async pull(image: string, credentials: RegistryCredentials | undefined, onEvent: (event: PullEvent) => void): Promise<void> {
    const what = `pull of ${image} failed`;
    const started = Date.now();
    // The engine answers (HTTP headers) within the call time-out, like any call; the whole
    // download then has the pull time-out.
    const stream = (await this.call(what, (d, abortSignal) =>
      d.createImage(credentials ? { ...credentials } : undefined, { ...splitReference(image), abortSignal }),
    )) as NodeJS.ReadableStream & { destroy(error?: Error): void };
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      stream.destroy(new DeadlineExceeded('pull deadline'));
    }, Math.max(0, this.pullTimeoutMs - (Date.now() - started)));
    let failure: string | undefined;
    let pending = '';
    const handleLine = (line: string) => {
      const text = line.trim();
      if (text === '') return;
      let event: PullEvent;
      try {
        event = JSON.parse(text) as PullEvent;
      } catch {
        this.log.debug(`pull of ${image}: ignored a line that is not JSON: ${text.slice(0, 200)}`);
        return;
      }
      if (event.error || event.errorDetail) failure ??= event.errorDetail?.message || event.error || 'unknown error';
      onEvent(event);
    };
    try {
      for await (const chunk of stream as AsyncIterable<Buffer | string>) {
        pending += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
        let newline: number;
        while ((newline = pending.indexOf('\n')) >= 0) {
          handleLine(pending.slice(0, newline));
          pending = pending.slice(newline + 1);
        }
      }
      handleLine(pending);
    } catch (err) {
      // Not an unavailable engine: a pull that took too long (slow registry) falls back to a local copy.
      if (timedOut) throw new TimedOutError(`${what}: not done within ${describeDuration(this.pullTimeoutMs)}`, { cause: err });
      throw this.translate(what, err);
    } finally {
      clearTimeout(timer);
    }
    if (failure !== undefined) throw new EngineError(`${what}: ${failure}`, 200);
  }

  /** Creates a container from a Docker API create body; returns its id. */
  async createContainer(name: string | undefined, body: Record<string, unknown>): Promise<string> {
    // dockerode sends `_query` as the query string and `_body` as the JSON body; without them it
    // would repeat the whole body in the URL.
    const options = { _query: name ? { name } : {}, _body: body } as unknown as Dockerode.ContainerCreateOptions;
    const container = await this.call('container create failed', (d, abortSignal) => d.createContainer({ ...options, abortSignal }));
    return container.id;
  }

  /** Starts a container; true if it was started, false if it was already running. */
  async startContainer(id: string): Promise<boolean> {
    return this.idempotent('container start failed', (d, abortSignal) => d.getContainer(checkedContainer(id)).start({ abortSignal }));
  }

  /** Stops a container; true if it was stopped, false if it was not running. */
  async stopContainer(id: string): Promise<boolean> {
    return this.idempotent('container stop failed', (d, abortSignal) => d.getContainer(checkedContainer(id)).stop({ abortSignal }));
  }

  /** `docker rm -f -v`. */
  async removeContainer(id: string): Promise<void> {
    await this.call('container remove failed', (d, abortSignal) => d.getContainer(checkedContainer(id)).remove({ force: true, v: true, abortSignal }));
  }

  async renameContainer(id: string, name: string): Promise<void> {
    await this.call('container rename failed', (d, abortSignal) => d.getContainer(checkedContainer(id)).rename({ name, abortSignal }));
  }

  /** `docker image prune -a`: every image no container uses. */
  async pruneUnusedImages(): Promise<PruneResult> {
    const result = await this.call('image prune failed', (d, abortSignal) => d.pruneImages({ filters: { dangling: ['false'] }, abortSignal }));
    const images: string[] = [];
    for (const item of result.ImagesDeleted ?? []) {
      if (item.Untagged) images.push(`untagged: ${item.Untagged}`);
      if (item.Deleted) images.push(`deleted: ${item.Deleted}`);
    }
    return { images, space_reclaimed: result.SpaceReclaimed ?? 0 };
  }

  /** HTTP 304 from start/stop means "already in that state", which the Go agent's client took as done. */
  private async idempotent(what: string, fn: (docker: Dockerode, abortSignal: AbortSignal) => Promise<unknown>): Promise<boolean> {
    try {
      await this.call(what, fn);
      return true;
    } catch (err) {
      if (err instanceof EngineError && err.status === 304) return false;
      throw err;
    }
  }
}
