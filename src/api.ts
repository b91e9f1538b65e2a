// The device API of ../shared/API.md as one typed map: every command's request (with the
// validator the agent runs before any handler) and its answer body. The agent's router and the
// command-line client both use it, so a client cannot send what the agent would refuse.

import { fileNameProblem } from './sketches/names.js';
import { arrayOf, bool, int, jsonObject, object, oneOf, optional, str, ValidationError, type Infer, type Schema } from './api/schema.js';

// ---- field rules shared by several commands -------------------------------------------------

/** Sketch names and ids are file names in the sketches folder: nothing that could leave it, no
 * hidden file, nothing that breaks the topic B/sketches/<id>/stdout (the rule of sketches/names.ts,
 * applied before any handler runs). */
export const fileName: Schema<string> = {
  parse(value, at) {
    const text = str({ min: 1, max: 1024 }).parse(value, at);
    const problem = fileNameProblem(text);
    if (problem) throw new ValidationError(`${at}: not a plain file name (${problem})`);
    return text;
  },
};

/** Debian's package-name grammar, optionally `:arch`, then `=version` or `/release`. A leading
 * "-" can never match, so option injection into apt-get is impossible by construction. */
export const packageName = str({
  min: 1,
  max: 256,
  pattern: /^[a-z0-9][a-z0-9+.-]*(?::[a-z0-9-]+)?(?:=[A-Za-z0-9.+~:_-]+|\/[A-Za-z0-9.+~_-]+)?$/,
  patternText: 'is not a Debian package name (lower-case letters, digits, "+", "-", "."; optional =version or /release)',
});

/** One line of an apt sources file: a field must not be able to start another line. */
const sourcesField = (max = 1024) => str({ max, pattern: /^[^\n\r\0]*$/, patternText: 'must not contain a newline or NUL' });

export const repositorySchema = object(
  {
    enabled: bool(),
    sourceRepo: bool(),
    options: optional(sourcesField()),
    uri: str({ min: 1, max: 2048, pattern: /^[^\s\0]+$/, patternText: 'must be a URI without spaces' }),
    distribution: str({ min: 1, max: 256, pattern: /^[^\s\0]+$/, patternText: 'must be one word' }),
    components: optional(sourcesField()),
    comment: optional(sourcesField()),
  },
  { caseInsensitive: true },
);
export type RepositoryRequest = Infer<typeof repositorySchema>;
/** A repository as the agent writes it: every field present, exactly as named in API.md. */
export interface Repository {
  enabled: boolean;
  sourceRepo: boolean;
  options: string;
  uri: string;
  distribution: string;
  components: string;
  comment: string;
}

/** A container as the engine names it: its id (or a prefix) or its name. These end up in the
 * engine's URL paths, so nothing that could leave `/containers/<id>/` gets through. */
export const containerRef = str({
  min: 1,
  max: 256,
  pattern: /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]*$/,
  patternText: 'must be a container id or name (letters, digits, "_", ".", "-")',
});

/** An image reference (`[registry[:port]/]repository[:tag][@digest]`); the engine checks the rest. */
export const imageRef = str({
  min: 1,
  max: 512,
  pattern: /^(?!.*\.\.)(?!.*\/\/)[a-zA-Z0-9][a-zA-Z0-9._\-/:@]*$/,
  patternText: 'must be an image reference such as registry:5000/name:tag',
});

const httpUrl = str({ min: 1, max: 4096, pattern: /^https?:\/\/[^\s]+$/i, patternText: 'must be an http:// or https:// URL' });

// ---- answer bodies ---------------------------------------------------------------------------

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

export interface StatusBody {
  sketches: Record<string, SketchStatus>;
}

export interface MemoryStats {
  FreeMem: number;
  TotalMem: number;
  AvailableMem: number;
  Buffers: number;
  Cached: number;
  FreeSwapMem: number;
  TotalSwapMem: number;
}

export interface DiskStats {
  Device: string;
  Type: string;
  MountPoint: string;
  FreeSpace: number;
  AvailableSpace: number;
  DiskSize: number;
}

/** NetworkManager's view as the Go agent's gonetworkmanager marshalled it: enum values by their
 * Go names (`NmDeviceTypeEthernet`, `NmDeviceStateActivated`, `Nm80211ModeInfra`,
 * `NmStateConnectedGlobal`; a value without a name as `NmDeviceType(40)`). */
export interface AccessPointInfo {
  SSID: string;
  HWAddress: string;
  Flags: number;
  WPAFlags: number;
  RSNFlags: number;
  /** MHz. */
  Frequency: number;
  /** kbit/s. */
  MaxBitrate: number;
  /** Percent. */
  Strength: number;
  Mode: string;
}

export interface IP4ConfigInfo {
  /** Gateway: the configuration's gateway on the first address, "0.0.0.0" on the others. */
  Addresses: { Address: string; Prefix: number; Gateway: string }[];
  Gateway: string;
  Nameservers: string[];
  Domains: string[];
  /** NextHop "0.0.0.0" for a route on the link. */
  Routes: { Route: string; Prefix: number; NextHop: string; Metric: number }[];
}

/** A saved connection profile that can be activated on the device (from its settings, which
 * NetworkManager gives without secrets). */
export interface ConnectionInfo {
  Path: string;
  Id: string;
  Uuid: string;
  Type: string;
}

export interface DeviceInfo {
  /** NetworkManager's D-Bus object path of the device. */
  Path: string;
  Interface: string;
  DeviceType: string;
  State: string;
  HWAddress: string;
  /** null unless the device has an IPv4 configuration (it is activated). */
  IP4Config: IP4ConfigInfo | null;
  /** Visible access points of a Wi-Fi device; null for other devices. */
  AccessPoints: AccessPointInfo[] | null;
  AvailableConnections: ConnectionInfo[];
}

export interface NetworkStats {
  Devices: DeviceInfo[];
  /** NetworkManager's global state. */
  Status: string;
}

export interface StatsBody {
  memory: MemoryStats;
  disk: DiskStats[];
  /** NetworkManager's view; null when it cannot be read (the reason is in `errors.network`). */
  network: NetworkStats | null;
  errors?: { network?: string };
}

export interface AptPackage {
  Name: string;
  Status: string;
  Architecture: string;
  Version: string;
}

export interface AptPackagesBody {
  packages: AptPackage[];
}

export interface AptListBody {
  packages: AptPackage[];
  page: number;
  pages: number;
  total_items: number;
}

export interface CommandOutputBody {
  output: string;
}

export interface ContainerActionResult {
  action: string;
  background: boolean;
  id: string;
  image: string;
  name: string;
  /** remove: the images that the prune after it untagged or deleted (beyond the Go agent). */
  pruned?: { images: string[]; space_reclaimed: number };
  /** run: the pull failed and the copy already on the device was run (beyond the Go agent). */
  pull_error?: string;
}

// ---- the map ---------------------------------------------------------------------------------

const empty = object({});
const packageList = object({ packages: arrayOf(packageName, { max: 500 }) });

export const requestSchemas = {
  status: empty,
  upload: object({ token: optional(str({ max: 8192 })), url: httpUrl, name: fileName, id: fileName }),
  sketch: object({ id: fileName, name: optional(fileName), action: oneOf('START', 'STOP', 'PAUSE', 'DELETE') }),
  stats: empty,
  'apt/get': object({ package: packageName }),
  'apt/list': object({
    search: optional(str({ max: 128, pattern: /^[A-Za-z0-9+.:_-]*$/, patternText: 'may hold only letters, digits and "+.:_-"' })),
    page: optional(int({ min: 0, max: 1_000_000 })),
  }),
  'apt/update': empty,
  'apt/install': object({ packages: arrayOf(packageName, { min: 1, max: 500 }) }),
  'apt/upgrade': packageList,
  'apt/remove': object({ packages: arrayOf(packageName, { min: 1, max: 500 }) }),
  'apt/repos/list': empty,
  'apt/repos/add': object({ repository: repositorySchema }),
  'apt/repos/remove': object({ repository: repositorySchema }),
  'apt/repos/edit': object({ old_repository: repositorySchema, new_repository: repositorySchema }),
  'containers/ps': object({ id: optional(str({ min: 1, max: 256 })) }),
  'containers/images': object({ name: optional(str({ min: 1, max: 512 })) }),
  'containers/action': object({
    action: oneOf('run', 'start', 'stop', 'remove'),
    id: optional(containerRef),
    image: optional(imageRef),
    name: optional(str({ max: 256, pattern: /^(\/?[a-zA-Z0-9][a-zA-Z0-9_.-]*)?$/, patternText: 'must be a container name (letters, digits, "_", ".", "-")' })),
    background: optional(bool()),
    user: optional(str({ max: 1024 })),
    password: optional(str({ max: 4096 })),
    save_registry_credentials: optional(bool()),
    container_config: optional(jsonObject()),
    host_config: optional(jsonObject()),
    networking_config: optional(jsonObject()),
  }),
  'containers/rename': object({ id: containerRef, name: containerRef }),
} satisfies Record<string, Schema<unknown>>;

export interface Answers {
  status: StatusBody;
  upload: string;
  sketch: string;
  stats: StatsBody;
  'apt/get': AptPackagesBody;
  'apt/list': AptListBody;
  'apt/update': CommandOutputBody;
  'apt/install': CommandOutputBody;
  'apt/upgrade': CommandOutputBody;
  'apt/remove': CommandOutputBody;
  'apt/repos/list': Repository[];
  'apt/repos/add': string;
  'apt/repos/remove': string;
  'apt/repos/edit': string;
  'containers/ps': unknown[];
  'containers/images': unknown[];
  'containers/action': ContainerActionResult[];
  'containers/rename': { id: string; name: string };
}

export type CommandName = keyof typeof requestSchemas;
export type RequestOf<K extends CommandName> = Infer<(typeof requestSchemas)[K]>;
export type AnswerOf<K extends CommandName> = Answers[K];

export const commandNames = Object.keys(requestSchemas) as CommandName[];

export function isCommandName(name: string): name is CommandName {
  return Object.prototype.hasOwnProperty.call(requestSchemas, name);
}


// ---- topics ----------------------------------------------------------------------------------

export const DEFAULT_BASE_TOPIC = '$aws/things/{id}';

export function baseTopic(template: string, deviceId: string): string {
  return template.replaceAll('{id}', deviceId).replace(/\/+$/, '');
}

export const topics = {
  request: (base: string, command: string) => `${base}/${command}/post`,
  answer: (base: string, command: string) => `${base}/${command}`,
  heartbeat: (base: string) => `${base}/heartbeat`,
  status: (base: string) => `${base}/status`,
  stdout: (base: string) => `${base}/stdout`,
  sketchStdout: (base: string, id: string) => `${base}/sketches/${id}/stdout`,
  stdin: (base: string) => `${base}/stdin`,
  sketchStdin: (base: string, id: string) => `${base}/sketches/${id}/stdin`,
  shadowUpdate: (base: string) => `${base}/shadow/update`,
  shadowDelete: (base: string) => `${base}/shadow/delete`,
  register: (base: string) => `${base}/register`,
  install: (base: string) => `${base}/install`,
  aptProgress: (base: string) => `${base}/apt/progress`,
  containersProgress: (base: string) => `${base}/containers/progress`,
};

// ---- the text of an answer -------------------------------------------------------------------

export function formatInfo(body: unknown): string {
  return `INFO: ${typeof body === 'string' ? body : JSON.stringify(body)}\n`;
}

export function formatError(message: string): string {
  // Clients trim trailing whitespace, so the answer ends with exactly one newline whatever the
  // message ended with.
  return `ERROR: ${message.trimEnd()}\n`;
}

export type Reply = { ok: true; body: string } | { ok: false; message: string };

export function parseReply(payload: string): Reply {
  const text = payload.trimEnd();
  if (text.startsWith('INFO: ') || text === 'INFO:') return { ok: true, body: text.slice(6) };
  if (text.startsWith('ERROR: ') || text === 'ERROR:') return { ok: false, message: text.slice(7) };
  return { ok: false, message: `not an answer: ${text.slice(0, 200)}` };
}

/** The body of an INFO answer, decoded as JSON when it is JSON. */
export function decodeBody(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return body;
  }
}
