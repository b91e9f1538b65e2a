// The update family and an updated agent's probation over the in-memory broker: refusals that
// come before any download, and what the agent does at start with the update state the selector
// left (commit on status, expire at the deadline, report a rollback once; the message itself on
// B/update is checked against mosquitto in test/update.test.ts).

import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { StatusBody } from '../../src/api.js';
import { readUpdateState, writeUpdateState, type UpdateState } from '../../src/update/releases.js';
import { VERSION } from '../../src/version.js';
import { startMemoryAgent } from '../helpers/memory-agent.js';
import { withoutParts } from '../helpers/status-body.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

let work: Awaited<ReturnType<typeof tempDir>>;
let n = 0;
before(async () => {
  work = await tempDir('ac-update-unit-');
});
after(async () => {
  await work?.remove();
});

/** A releases folder holding this update state. */
async function releasesWith(state?: Partial<UpdateState>): Promise<string> {
  const dir = join(work.path, `releases-${++n}`);
  await mkdir(dir);
  if (state) await writeUpdateState(dir, { version: VERSION, from: '0.0.1', phase: 'probation', starts: 1, since: 0, reason: '', reported: false, ...state });
  return dir;
}

async function statusOf(client: { call(c: 'status', r: Record<string, never>): Promise<{ ok: boolean; body?: string }> }): Promise<StatusBody> {
  const reply = await client.call('status', {});
  assert.ok(reply.ok);
  return JSON.parse(reply.body!) as StatusBody;
}

describe('update', () => {
  it('refuses before downloading anything: no key, a URL that is not http(s)', async () => {
    const t = await startMemoryAgent({ releases_path: await releasesWith() });
    try {
      const noKey = await t.client.call('update', { url: 'http://127.0.0.1:1/r.tar.gz' });
      assert.match(noKey.ok ? '' : noKey.message, /^update refused, no release can be verified: signature_key is empty/);
      const ftp = await t.client.callRaw('update', '{"url":"ftp://example.com/r.tar.gz"}');
      assert.equal(ftp.ok, false);
      const notBase64 = await t.client.callRaw('update', '{"url":"http://127.0.0.1:1/r.tar.gz","signature":"not base64!"}');
      assert.match(notBase64.ok ? '' : notBase64.message, /signature.*not base64/);
      assert.deepEqual(withoutParts(await statusOf(t.client)), { sketches: {}, version: VERSION });
    } finally {
      await t.stop();
    }
  });

  it('commits a release on probation once it has answered status', async () => {
    const releases = await releasesWith({});
    const t = await startMemoryAgent({ releases_path: releases, update_probation: 60 });
    try {
      assert.deepEqual((await statusOf(t.client)).update, { version: VERSION, from: '0.0.1', outcome: 'probation' });
      await waitFor(async () => (await readUpdateState(releases))?.phase === 'committed', 'committed');
      assert.deepEqual((await statusOf(t.client)).update, { version: VERSION, from: '0.0.1', outcome: 'committed' });
    } finally {
      await t.stop();
    }
  });

  it('expires a release on probation that answered no status by its deadline', async () => {
    const releases = await releasesWith({});
    const t = await startMemoryAgent({ releases_path: releases, update_probation: 1 });
    try {
      await waitFor(async () => (await readUpdateState(releases))?.phase === 'expired', 'expired', 5000);
      assert.equal((await readUpdateState(releases))?.reason, 'not connected and answering status within 1 s');
      await waitFor(() => t.logs.some((l) => l.includes('probation expired') && l.includes('would exit with 70')), 'the exit asked for');
    } finally {
      await t.stop();
    }
  });

  it('reports a rollback once on B/update, and not again at the next start', async () => {
    const releases = await releasesWith({ version: '9.0.0', from: VERSION, phase: 'rolled-back', starts: 3, reason: 'exited 3 times before answering status' });
    const t = await startMemoryAgent({ releases_path: releases });
    try {
      await waitFor(async () => (await readUpdateState(releases))?.reported, 'reported');
      assert.deepEqual((await statusOf(t.client)).update, { version: '9.0.0', from: VERSION, outcome: 'rolled back', reason: 'exited 3 times before answering status' });
    } finally {
      await t.stop();
    }
    // The next start says nothing: the mark is on disk.
    const again = await startMemoryAgent({ releases_path: releases });
    try {
      await statusOf(again.client);
      assert.equal(again.logs.some((l) => l.includes('rolled back:')), false);
    } finally {
      await again.stop();
    }
    assert.ok(t.logs.some((l) => l.includes('update to 9.0.0 rolled back: exited 3 times before answering status')));
  });
});
