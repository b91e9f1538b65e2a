// Registry credentials in the Docker client's config file (`config.json`, "auths" section), the
// same place `docker login` keeps them, so the agent and an administrator's docker CLI share one
// login per registry. The file holds secrets: written atomically, mode 0600, folder 0700.

import { mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { FailedError } from '../errors.js';
import { errorMessage, type Logger } from '../log.js';
import { writeFileAtomic } from '../lib/atomic-file.js';
import { SerialQueue } from '../lib/serial-queue.js';

export interface RegistryCredentials {
  username: string;
  password: string;
  /** The registry as the engine's /auth and X-Registry-Auth expect it (host[:port] or Docker Hub's URL). */
  serveraddress: string;
}

/** The key Docker uses for Docker Hub in config.json. */
export const DOCKER_HUB = 'https://index.docker.io/v1/';

/**
 * The registry an image reference is pulled from, as Docker decides it: the first path component
 * when it looks like a host (has "." or ":", or is "localhost"), else Docker Hub.
 */
export function registryOf(image: string): string {
  const slash = image.indexOf('/');
  if (slash < 0) return DOCKER_HUB;
  const first = image.slice(0, slash);
  if (first.includes('.') || first.includes(':') || first === 'localhost') return first;
  return DOCKER_HUB;
}

/** `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json` of the agent's user. */
export function defaultDockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.DOCKER_CONFIG || join(homedir(), '.docker'), 'config.json');
}

type ConfigDocument = Record<string, unknown> & { auths?: Record<string, Record<string, unknown>> };

export class DockerConfigFile {
  /** Writes are queued so two concurrent runs cannot lose each other's change. */
  private readonly writes = new SerialQueue();

  constructor(
    readonly path: string,
    private readonly log: Logger,
  ) {}

  /** Stored credentials for a registry, or undefined (also when the file is unreadable: logged). */
  async credentialsFor(registry: string): Promise<RegistryCredentials | undefined> {
    let doc: ConfigDocument;
    try {
      doc = await this.read();
    } catch (err) {
      this.log.warn(`stored registry credentials not used: ${errorMessage(err)}`);
      return undefined;
    }
    const entry = doc.auths?.[registry];
    if (!entry || typeof entry !== 'object') return undefined;
    if (typeof entry.auth === 'string' && entry.auth !== '') {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1), serveraddress: registry };
    }
    if (typeof entry.username === 'string' && typeof entry.password === 'string') {
      return { username: entry.username, password: entry.password, serveraddress: registry };
    }
    return undefined;
  }

  async save(credentials: RegistryCredentials): Promise<void> {
    await this.update((doc) => {
      const auths = (doc.auths ??= {});
      auths[credentials.serveraddress] = {
        auth: Buffer.from(`${credentials.username}:${credentials.password}`, 'utf8').toString('base64'),
      };
      return true;
    });
  }

  /** Removes a registry's stored credentials; true when there were some. */
  async forget(registry: string): Promise<boolean> {
    let removed = false;
    await this.update((doc) => {
      if (!doc.auths || !(registry in doc.auths)) return false;
      delete doc.auths[registry];
      removed = true;
      return true;
    });
    return removed;
  }

  private async read(): Promise<ConfigDocument> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw err;
    }
    if (text.trim() === '') return {};
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new FailedError(`${this.path} is not valid JSON (${errorMessage(err)}); it was left unchanged`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new FailedError(`${this.path} does not hold a JSON object; it was left unchanged`);
    }
    const doc = value as ConfigDocument;
    if (doc.auths !== undefined && (typeof doc.auths !== 'object' || doc.auths === null || Array.isArray(doc.auths))) {
      throw new FailedError(`${this.path}: "auths" is not an object; it was left unchanged`);
    }
    return doc;
  }

  /** Read, change, write back atomically (0600); `change` returns false when nothing changed. */
  private update(change: (doc: ConfigDocument) => boolean): Promise<void> {
    const run = async () => {
      const doc = await this.read();
      if (!change(doc)) return;
      await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
      await writeFileAtomic(this.path, `${JSON.stringify(doc, null, '\t')}\n`, { mode: 0o600 });
    };
    return this.writes.run(run);
  }
}
