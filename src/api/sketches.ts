// status, upload and sketch: the sketch table and the commands that change it.

import { fileName, httpUrl } from './fields.js';
import type { UpdateOutcome } from './update.js';
import { object, oneOf, optional, refine, str, ValidationError } from './schema.js';

export const statusRequests = {
  status: object({}),
};

/** A request without `id` means the sketch whose id is its `name`, as the Go agent took it. */
function idFromName<T extends { id?: string; name?: string }>(request: T, at: string): T & { id: string } {
  const id = request.id ?? request.name;
  if (id === undefined) throw new ValidationError(`${at === '' ? 'field "id"' : `${at}.id`}: missing (give "id", or "name" to use it as the id)`);
  return { ...request, id };
}

export const sketchRequests = {
  upload: refine(object({ token: optional(str({ max: 8192 })), url: httpUrl, name: fileName, id: optional(fileName) }), idFromName),
  sketch: refine(object({ id: optional(fileName), name: optional(fileName), action: oneOf('START', 'STOP', 'PAUSE', 'DELETE') }), idFromName),
};

export interface StatusAnswers {
  status: StatusBody;
}

export interface SketchAnswers {
  upload: string;
  sketch: string;
}

export type SketchState = 'RUNNING' | 'STOPPED' | 'PAUSED';

export interface SketchStatus {
  name: string;
  id: string;
  pid: number;
  status: SketchState;
  endpoints: null;
  /** Beyond the Go agent: how a sketch that ended by itself ended. */
  exit_code?: number | null;
  signal?: string | null;
}

/** Which optional parts of the system the agent found (it never installs any of them): a
 * container engine answering at docker_host, NetworkManager on the system D-Bus, the nats-server
 * program, and dpkg with apt-get. A part whose check has not answered counts as absent. */
export interface PartsPresent {
  containers: boolean;
  network_manager: boolean;
  nats_server: boolean;
  apt: boolean;
}

export type PartName = keyof PartsPresent;

export const partNames: readonly PartName[] = ['containers', 'network_manager', 'nats_server', 'apt'];

export interface StatusBody {
  sketches: Record<string, SketchStatus>;
  /** Beyond the Go agent: the running agent's version. */
  version?: string;
  /** Beyond the Go agent: the last self-update, once there was one (see `update`). */
  update?: UpdateOutcome;
  /** Beyond the Go agent: the optional parts present on the device. */
  parts?: PartsPresent;
}
