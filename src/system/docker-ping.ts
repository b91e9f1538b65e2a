// Whether a container engine answers at its endpoint: one GET /_ping over node:http, bounded in
// time, without loading dockerode (which the containers feature loads on its first command).

import { request } from 'node:http';
import type { DockerEndpoint } from './docker.js';

export function pingEngine(endpoint: DockerEndpoint, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const where = endpoint.kind === 'unix' ? { socketPath: endpoint.socketPath } : { host: endpoint.host, port: endpoint.port };
    const req = request({ ...where, path: '/_ping', method: 'GET', timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy(new Error('no answer')));
    req.on('error', () => resolve(false));
    req.end();
  });
}
