// Whether a container engine answers at its endpoint: one `GET /_ping` written by hand over a
// node:net socket, bounded in time, the status line read and the socket closed.
//
// Not node:http (nor dockerode, which the containers feature loads on its first command): this
// check runs in the agent's process every minute and on status reads, and the HTTP client's first
// use there made later `status` round trips slower at the tail in the core bench (BENCHMARKS.md,
// session 6). The MQTT connection already runs on net sockets.

import { connect } from 'node:net';
import type { DockerEndpoint } from './docker.js';

/** Enough of the answer to hold its status line. */
const statusLineBytes = 64;
const request = Buffer.from('GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n', 'latin1');
const ok = /^HTTP\/1\.[01] 200 /;

export function pingEngine(endpoint: DockerEndpoint, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = endpoint.kind === 'unix' ? connect(endpoint.socketPath) : connect(endpoint.port, endpoint.host);
    // Buffers in and out, as on the MQTT socket: a string-decoding socket would be a second shape
    // for the stream code that every MQTT packet goes through.
    let answer = Buffer.alloc(0);
    const done = (present: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(present);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => {
      answer = Buffer.concat([answer, chunk]);
      const end = answer.indexOf('\r\n');
      if (end >= 0) done(ok.test(answer.toString('latin1', 0, end + 1)));
      else if (answer.length > statusLineBytes) done(false);
    });
    socket.on('error', () => done(false));
    socket.on('close', () => done(false));
  });
}
