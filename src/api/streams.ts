// What the agent publishes without being asked, one typed payload per stream.
//
// The convention: a stream that carries what a command would answer (B/heartbeat, B/status) is
// written like an answer, `INFO: <body>`, as the Go agent did (and so is the Go agent's B/install); every stream this agent adds
// (B/apt/progress, B/containers/progress) is bare JSON, like the contract's own B/shadow/update
// and B/presence; sketch output (B/stdout, B/sketches/<id>/stdout) is the raw bytes the sketch
// wrote. Errors never go on a stream: a failed command answers on its own answer topic.

import { formatInfo } from './answer.js';
import type { RegisterPayload } from './register.js';
import { anyJson, fixedObject, int, listOf, oneOf, optional, record, str, text, type Schema } from './schema.js';
import type { ShadowUpdate } from './shadow.js';
import { statusBodySchema, type StatusBody } from './sketches.js';
import { topics } from './topics.js';

/** One line of a running apt command. */
export interface AptProgressLine {
  /** The command that runs, e.g. `apt/install`. */
  command: string;
  /** Counts runs since the agent started, so lines of consecutive runs can be told apart. */
  run: number;
  line: string;
}

/** One step of an image pull started by containers/action run. */
export interface ContainerProgress {
  image: string;
  /** The engine's status text (`Downloading`, `Pull complete`...), or `pulled` / `pull failed`. */
  status: string;
  /** The layer the event is about, when it is about one. */
  layer?: string;
  /** Bytes done and expected of a layer being downloaded or extracted. */
  current?: number;
  total?: number;
  error?: string;
}

/** What a full offline queue dropped (its oldest messages), told once the broker is back. */
export interface OutboxDropped {
  /** Bytes as they were queued: each message's topic, payload and 19 bytes of framing. */
  bytes: number;
  messages: number;
}

/** B/presence, retained: whether the device has a broker session now. `online` is published when
 * each session begins; `offline` is the session's last will, and what a clean stop says itself. */
export type Presence =
  | {
      state: 'online';
      /** The running agent's version. */
      version: string;
      /** The device's host name. */
      host: string;
      /** When this broker session began (ISO 8601, UTC): a reconnection moves it. */
      since: string;
    }
  | { state: 'offline' };

/** Either shape of B/presence. */
function presenceSchema(): Schema<Presence> {
  const online = fixedObject({
    state: oneOf('online'),
    version: text("The running agent's version."),
    host: text("The device's host name."),
    since: text('When this broker session began (ISO 8601, UTC); a reconnection moves it.'),
  });
  const offline = fixedObject({ state: oneOf('offline') });
  return {
    json: { oneOf: [online.json, offline.json] },
    parse: (value, at) => ((value as { state?: unknown } | null)?.state === 'offline' ? offline.parse(value, at) : online.parse(value, at)),
  };
}

export interface StreamPayloads {
  /** System uptime in seconds, 2 decimals. */
  heartbeat: string;
  status: StatusBody;
  'apt/progress': AptProgressLine;
  'containers/progress': ContainerProgress;
  /** A line of the file that -listen follows, as written (no line break): the Go agent sent
   * these as `INFO: <line>`, and so does this one. */
  install: string;
  register: RegisterPayload;
  'shadow/update': ShadowUpdate;
  'outbox/dropped': OutboxDropped;
  presence: Presence;
}

export type StreamName = keyof StreamPayloads;

export interface StreamSpec<T> {
  topic: (base: string) => string;
  format: 'info' | 'json';
  /** The payload; for `info`, the body after `INFO: `. Built on first use: the agent itself
   * never needs it (docs/asyncapi.yaml and the tests do). */
  schema: () => Schema<T>;
  /** When the agent publishes it (docs/asyncapi.yaml). */
  description: string;
  retained?: boolean;
}

export const streams: { [S in StreamName]: StreamSpec<StreamPayloads[S]> } = {
  heartbeat: {
    topic: topics.heartbeat,
    format: 'info',
    schema: () => str({ max: 32, pattern: /^\d+\.\d\d$/, patternText: 'is the system uptime in seconds, 2 decimals' }),
    description: 'Every 15 s while connected.',
  },
  status: { topic: topics.status, format: 'info', schema: statusBodySchema, description: 'The body of `status`, whenever a sketch changes state and at connection.' },
  'apt/progress': {
    topic: topics.aptProgress,
    format: 'json',
    schema: () => fixedObject({ command: text('The command that runs, e.g. `apt/install`.'), run: int({ min: 0 }), line: text() }),
    description: 'One line of a running apt command, as apt prints it.',
  },
  'containers/progress': {
    topic: topics.containersProgress,
    format: 'json',
    schema: () =>
      fixedObject({
        image: text(),
        status: text('The engine\'s status text (`Downloading`, `Pull complete`...), or `pulled` / `pull failed`.'),
        layer: optional(text()),
        current: optional(int({ min: 0 })),
        total: optional(int({ min: 0 })),
        error: optional(text()),
      }),
    description: 'One step of an image pull started by `containers/action` run.',
  },
  install: { topic: topics.install, format: 'info', schema: () => text('A line with `$$$` of the file -listen follows.'), description: 'While -listen follows an installation log.' },
  register: {
    topic: topics.register,
    format: 'json',
    schema: () => fixedObject({ Host: text('The host name.'), MACs: listOf(text()) }),
    description: 'Once, when the device is registered or configured (-register, -configure).',
  },
  'shadow/update': {
    topic: topics.shadowUpdate,
    format: 'json',
    schema: () =>
      fixedObject({
        state: fixedObject({
          reported: record(
            anyJson(
              'One key, the <name> of the local bus subject `$arduino.cloud.<name>`; its value is the message as sent when it is JSON, a JSON string of its text when it is not, or `data:application/octet-stream;base64,<bytes>` when it is not UTF-8.',
            ),
          ),
        }),
      }),
    description: 'For each message a sketch publishes on the local bus (`$arduino.cloud.<name>`), within the daily rate limit.',
  },
  'outbox/dropped': {
    topic: topics.outboxDropped,
    format: 'json',
    schema: () =>
      fixedObject({
        bytes: int({ min: 0 }),
        messages: int({ min: 0 }),
      }),
    description: 'Once the broker is back, when the offline queue was full while it was away and dropped its oldest messages: how many, and their bytes as queued (topic, payload and 19 bytes of framing each).',
  },
  presence: {
    topic: topics.presence,
    format: 'json',
    schema: presenceSchema,
    description: 'Retained. `online` when each broker session begins; `offline` is the session\'s last will (the broker publishes it when the connection dies) and what a clean stop publishes itself.',
    retained: true,
  },
};

/** Streams of raw bytes: sketch output and the terminal input the agent subscribes to. `{sketch}`
 * in a topic is a sketch id. */
export const byteStreams = {
  stdout: { topic: topics.stdout, direction: 'publish', description: 'The raw output of every running sketch, no prefix.' },
  sketchStdout: {
    topic: (base: string) => topics.sketchStdout(base, '{sketch}'),
    direction: 'publish',
    description: 'The raw output of one sketch (beyond the Go agent).',
  },
  stdin: { topic: topics.stdin, direction: 'subscribe', description: 'Raw bytes written to the terminal of the most recently started sketch.' },
  sketchStdin: { topic: (base: string) => topics.sketchStdin(base, '{sketch}'), direction: 'subscribe', description: "Raw bytes written to that sketch's terminal." },
  shadowDelete: { topic: topics.shadowDelete, direction: 'publish', description: 'An empty message once at start: wipes the device shadow.' },
} as const;

export function streamTopic(base: string, stream: StreamName): string {
  return streams[stream].topic(base);
}

/** The payload of one message on a stream, by the convention above. */
export function encodeStream<S extends StreamName>(stream: S, body: StreamPayloads[S]): string {
  return streams[stream].format === 'info' ? formatInfo(body) : JSON.stringify(body);
}

/** Decodes a message of a stream (clients, tests); throws on a payload that is not of it. */
export function decodeStream<S extends StreamName>(stream: S, payload: string): StreamPayloads[S] {
  if (streams[stream].format === 'json') return JSON.parse(payload) as StreamPayloads[S];
  const text = payload.trimEnd();
  if (!text.startsWith('INFO: ')) throw new Error(`not an INFO: message: ${text.slice(0, 100)}`);
  const body = text.slice(6);
  return (stream === 'heartbeat' || stream === 'install' ? body : JSON.parse(body)) as StreamPayloads[S];
}
