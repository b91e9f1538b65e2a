// The server deploy hands the agent: a real HTTP server on 127.0.0.1, fetched with a real client.

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { serveOnce } from '../../src/cli/one-shot-server.js';
import { tempDir } from '../helpers/tmp.js';

describe('one-shot server', () => {
  it('wants the token, serves each path once, then closes', async () => {
    const dir = await tempDir('ac-oneshot-');
    try {
      const file = join(dir.path, 'program');
      await writeFile(file, 'the program\n');
      const server = await serveOnce(new Map([['/program', { file }], ['/program.sig', { data: Buffer.from([1, 2, 3]) }]]), 60_000);
      assert.match(server.origin, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.match(server.token, /^[0-9a-f]{64}$/);
      const auth = { authorization: `Bearer ${server.token}` };

      assert.equal((await fetch(`${server.origin}/program`)).status, 401);
      assert.equal((await fetch(`${server.origin}/program`, { headers: { authorization: 'Bearer wrong' } })).status, 401);
      assert.equal((await fetch(`${server.origin}/other`, { headers: auth })).status, 404);
      const program = await fetch(`${server.origin}/program`, { headers: auth });
      assert.equal(program.status, 200);
      assert.equal(await program.text(), 'the program\n');
      assert.equal((await fetch(`${server.origin}/program`, { headers: auth })).status, 410);

      const signature = await fetch(`${server.origin}/program.sig`, { headers: auth });
      assert.deepEqual(Buffer.from(await signature.arrayBuffer()), Buffer.from([1, 2, 3]));
      await server.done;
      await assert.rejects(fetch(`${server.origin}/program.sig`, { headers: auth }), 'closed once everything was fetched');
      await server.close();
    } finally {
      await dir.remove();
    }
  });

  it('closes at the time-out when nobody comes', async () => {
    const server = await serveOnce(new Map([['/program', { data: Buffer.from('x') }]]), 50);
    await server.done;
    await server.close();
    await assert.rejects(fetch(`${server.origin}/program`, { headers: { authorization: `Bearer ${server.token}` } }));
  });
});
