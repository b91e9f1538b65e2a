// B/install: install progress. With -listen FILE (setting `listen`) the agent follows FILE and
// publishes each line that contains `$$$` as `INFO: <line>`, as the Go agent did. It runs inside
// the agent, on the agent's own broker session: the client id is the device id, so a second
// process publishing for the device would take the session over from the agent, and the two
// would throw each other off the broker.
//
// The line goes out as written (not escaped: it is the payload, not a log line); what reaches the
// log about it passes through the logger's escaping. While the broker is away the follower waits
// on the line in hand and the rest stays in the file, so nothing is lost or held in memory (and a
// line goes out twice only when the broker had it and its acknowledgement was lost).

import { encodeStream, streamTopic } from '../api.js';
import { Feature } from '../feature.js';
import { FileFollower, type FollowerEvent } from '../lib/file-follower.js';
import { errorMessage } from '../log.js';
import type { MessageBus } from '../mqtt/message-bus.js';

export interface InstallLogOptions {
  /** The file to follow; lines past 16 KiB are published cut (FileFollower's cap). */
  file: string;
}

/** What marks a line as install progress, as the Go agent's installer wrote it. */
const marker = '$$$';

/** The line as text. A cut line loses the incomplete character it may end in, rather than
 * ending in U+FFFD. */
function lineText(line: Buffer, cutBytes: number): string {
  return cutBytes === 0 ? line.toString('utf8') : new TextDecoder().decode(line, { stream: true });
}

export class InstallLog extends Feature<InstallLogOptions> {
  readonly name = 'install-log';
  private follower: FileFollower | undefined;
  private stopping: AbortController | undefined;

  override async start(): Promise<void> {
    const { file } = this.options;
    this.stopping = new AbortController();
    this.follower = new FileFollower({
      path: file,
      onLine: (line, cutBytes) => this.onLine(line, cutBytes),
      onEvent: (event) => this.onEvent(event),
    });
    this.follower.start();
    this.deps.log.info(`following ${file}: lines with ${marker} go to ${streamTopic(this.deps.base, 'install')}`);
  }

  override async stop(): Promise<void> {
    this.stopping?.abort();
    await this.follower?.stop();
    this.follower = undefined;
  }

  private async onLine(line: Buffer, cutBytes: number): Promise<void> {
    if (!line.includes(marker)) return;
    const text = lineText(line, cutBytes);
    if (cutBytes > 0) this.deps.log.warn(`a line of ${this.options.file} of ${line.length + cutBytes} bytes was published cut to ${Buffer.byteLength(text)} bytes`);
    await this.publish(encodeStream('install', text));
  }

  /** Publishes once the broker has it (QoS 1), waiting for the session as long as it takes. A
   * connection that drops before the broker acknowledged the line fails the publish (MQTT.js
   * forgets what was in flight when it reconnects), and the line is sent again on the next
   * session: twice only if the broker had it and its acknowledgement was lost. */
  private async publish(payload: string): Promise<void> {
    const { bus, base, log } = this.deps;
    const signal = this.stopping?.signal;
    while (signal && !signal.aborted) {
      if (!bus.connected) {
        await connectedOrAborted(bus, signal);
        continue;
      }
      try {
        await untilAborted(bus.publish(streamTopic(base, 'install'), payload, { qos: 1 }), signal);
        return;
      } catch (err) {
        if (!bus.connected) continue;
        log.warn(`install progress line not published: ${errorMessage(err)}`);
        return;
      }
    }
  }

  private onEvent(event: FollowerEvent): void {
    const { log } = this.deps;
    const { file } = this.options;
    switch (event.kind) {
      case 'waiting':
        log.info(`waiting for ${file}: ${event.reason}`);
        break;
      case 'following':
        log.info(`reading ${file}`);
        break;
      case 'truncated':
        log.info(`${file} was truncated: reading it again from its start${event.droppedPartialBytes ? ` (an unfinished line of ${event.droppedPartialBytes} bytes dropped)` : ''}`);
        break;
      case 'rotated':
        log.info(`${file} was replaced: the old file was read to its end, following the new one`);
        break;
      case 'error':
        log.warn(event.message);
        break;
    }
  }
}

/** The promise's outcome, or undefined once the agent stops: a line waiting for the broker's
 * acknowledgement must not hold the agent's stop. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

function connectedOrAborted(bus: MessageBus, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      bus.off('connect', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    bus.on('connect', done);
    signal.addEventListener('abort', done, { once: true });
  });
}
