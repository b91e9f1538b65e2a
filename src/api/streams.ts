// What the agent publishes without being asked, one typed payload per stream.
//
// The convention: a stream that carries what a command would answer (B/heartbeat, B/status) is
// written like an answer, `INFO: <body>`, as the Go agent did (and so is the Go agent's B/install); every stream this agent adds
// (B/apt/progress, B/containers/progress) is bare JSON, like the contract's own B/shadow/update
// and B/presence; sketch output (B/stdout, B/sketches/<id>/stdout) is the raw bytes the sketch
// wrote. Errors never go on a stream: a failed command answers on its own answer topic.

import { formatInfo } from './answer.js';
import type { StatusBody } from './sketches.js';
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

export interface StreamPayloads {
  /** System uptime in seconds, 2 decimals. */
  heartbeat: string;
  status: StatusBody;
  'apt/progress': AptProgressLine;
  'containers/progress': ContainerProgress;
  /** A line of the file that -listen follows, as written (no line break): the Go agent sent
   * these as `INFO: <line>`, and so does this one. */
  install: string;
  presence: Presence;
}

export type StreamName = keyof StreamPayloads;

const streams: { [S in StreamName]: { topic: (base: string) => string; format: 'info' | 'json' } } = {
  heartbeat: { topic: topics.heartbeat, format: 'info' },
  status: { topic: topics.status, format: 'info' },
  'apt/progress': { topic: topics.aptProgress, format: 'json' },
  'containers/progress': { topic: topics.containersProgress, format: 'json' },
  install: { topic: topics.install, format: 'info' },
  presence: { topic: topics.presence, format: 'json' },
};

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
