// status, upload and sketch: the sketch table and the commands that change it.

import { fileName, httpUrl } from './fields.js';
import { updateOutcomeSchema, type UpdateOutcome } from './update.js';
import { bool, fixedObject, int, nullable, nullValue, object, oneOf, optional, record, refine, str, text, ValidationError } from './schema.js';

export const statusRequests = {
  status: object({}),
};

/** A request without `id` means the sketch whose id is its `name`, as the Go agent took it. */
function idFromName<T extends { id?: string; name?: string }>(request: T, at: string): T & { id: string } {
  const id = request.id ?? request.name;
  if (id === undefined) throw new ValidationError(`${at === '' ? 'field "id"' : `${at}.id`}: missing (give "id", or "name" to use it as the id)`);
  return { ...request, id };
}

const idOrName = { anyOf: [{ required: ['id'] }, { required: ['name'] }] };

export const sketchRequests = {
  upload: refine(object({ token: optional(str({ max: 8192 })), url: httpUrl, name: fileName, id: optional(fileName) }), idFromName, idOrName),
  sketch: refine(object({ id: optional(fileName), name: optional(fileName), action: oneOf('START', 'STOP', 'PAUSE', 'DELETE') }), idFromName, idOrName),
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

/** The body of `status` and of the B/status stream; built on first use (see aptAnswerSchemas). */
export function statusBodySchema() {
  const sketchStatus = fixedObject({
    name: text(),
    id: text(),
    pid: int({ min: 0 }),
    status: oneOf('RUNNING', 'STOPPED', 'PAUSED'),
    endpoints: nullValue(),
    exit_code: optional(nullable(int())),
    signal: optional(nullable(text())),
  });
  return fixedObject({
    sketches: record(sketchStatus),
    version: optional(text()),
    update: optional(updateOutcomeSchema()),
    parts: optional(
      fixedObject({
        containers: bool(),
        network_manager: bool(),
        nats_server: bool(),
        apt: bool(),
      }),
    ),
  });
}

export function statusAnswerSchemas() {
  return { status: statusBodySchema() };
}

export function sketchAnswerSchemas() {
  return {
    upload: text('`Sketch started with PID <n>`'),
    sketch: text('`successfully performed <ACTION> on sketch <id>`'),
  };
}
