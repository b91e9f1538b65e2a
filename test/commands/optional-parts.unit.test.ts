// The optional parts' cache with real checks on real files and sockets: a program that appears is
// found on a later read (and its listener told), a check that hangs or fails counts as absent and
// never holds a read up; findExecutable takes only executable files.

import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { OptionalParts } from '../../src/commands/optional-parts.js';
import { createLogger } from '../../src/log.js';
import { pingEngine } from '../../src/system/docker-ping.js';
import { findExecutable } from '../../src/system/executables.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/** A unix socket that accepts connections and never answers: an engine that hangs. */
async function silentSocket(path: string): Promise<Server> {
  const server = createServer(() => {});
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return server;
}

describe('optional parts', () => {
  it('findExecutable: an executable file on the PATH or at an extra path; not a plain file, not a folder', async () => {
    const dir = await tempDir('ac-exec-');
    try {
      const bin = join(dir.path, 'bin');
      await mkdir(join(bin, 'folder-tool'), { recursive: true });
      await writeFile(join(bin, 'tool'), '#!/bin/sh\n');
      await chmod(join(bin, 'tool'), 0o755);
      await writeFile(join(bin, 'plain'), 'not a program\n');
      const env = { PATH: `relative/bin:${bin}` };
      assert.equal(await findExecutable('tool', [], env), join(bin, 'tool'));
      assert.equal(await findExecutable('plain', [], env), undefined);
      assert.equal(await findExecutable('folder-tool', [], env), undefined);
      assert.equal(await findExecutable('other', [join(bin, 'tool')], { PATH: '' }), join(bin, 'tool'));
    } finally {
      await dir.remove();
    }
  });

  it('caches the answers, refreshes them after the TTL in the background, tells a change; a hung or failing check is absent', async () => {
    const dir = await tempDir('ac-parts-');
    const hung = await silentSocket(join(dir.path, 'docker.sock'));
    const logs: string[] = [];
    const parts = new OptionalParts(
      {
        probes: {
          containers: () => pingEngine({ kind: 'unix', socketPath: join(dir.path, 'docker.sock') }, 5000),
          network_manager: async () => (await readFile(join(dir.path, 'missing'))).length > 0,
          nats_server: async () => (await findExecutable('nats-server', [], { PATH: dir.path })) !== undefined,
          apt: async () => (await findExecutable('sh', [], { PATH: '/bin:/usr/bin' })) !== undefined,
        },
        ttlMs: 0,
        probeTimeoutMs: 200,
      },
      createLogger({ level: 'debug', write: (line) => void logs.push(line) }),
    );
    try {
      assert.deepEqual(parts.snapshot(), { containers: false, network_manager: false, nats_server: false, apt: false }, 'before any check');
      await parts.start();
      assert.deepEqual(parts.snapshot(), { containers: false, network_manager: false, nats_server: false, apt: true });
      assert.match(logs.join('\n'), /check of containers did not answer within 200 ms/);
      assert.match(logs.join('\n'), /check of network_manager failed: ENOENT/);

      let told = 0;
      parts.onChange(() => told++);
      await writeFile(join(dir.path, 'nats-server'), '#!/bin/sh\n');
      await chmod(join(dir.path, 'nats-server'), 0o755);
      // Each read answers at once from the cache, and starts the next round.
      await waitFor(() => parts.snapshot().nats_server, 'nats-server to be found');
      assert.equal(told, 1);
      assert.match(logs.join('\n'), /optional parts changed: nats_server present/);
    } finally {
      parts.stop();
      hung.close();
      await dir.remove();
    }
  });
});
