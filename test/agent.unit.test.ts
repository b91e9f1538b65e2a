// The agent over the in-memory broker: every command answered, and a family whose feature cannot
// start answers ERROR: <family> unavailable while the rest serves, until it comes back.

import { VERSION } from '../src/version.js';
import assert from 'node:assert/strict';
import { rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { commandNames, topics } from '../src/api.js';
import { startMemoryAgent } from './helpers/memory-agent.js';
import { withoutParts } from './helpers/status-body.js';
import { tempDir } from './helpers/tmp.js';
import { waitFor } from './helpers/wait.js';

describe('agent over the in-memory bus', () => {
  it('answers every command of the API map, a malformed payload with ERROR:', async () => {
    const t = await startMemoryAgent();
    try {
      const status = await t.client.call('status', {});
      assert.ok(status.ok);
      assert.deepEqual(withoutParts(status.body), { sketches: {}, version: VERSION });
      for (const command of commandNames) {
        const reply = await t.client.callRaw(command, '{test}', 5000);
        assert.equal(reply.ok, false, command);
        assert.match(reply.ok ? '' : reply.message, /^invalid JSON/, command);
      }
    } finally {
      await t.stop();
    }
  });

  it('answers on the answer topic too, where clients of the Go agent listen', async () => {
    const t = await startMemoryAgent();
    try {
      const answers: string[] = [];
      await t.client.follow(topics.answer(t.agent.base, 'sketch'), (_topic, payload) => void answers.push(payload.toString()));
      // Keys in any case, and the name standing for a missing id.
      await t.client.callRaw('sketch', '{"Name":"blink","ACTION":"START"}');
      await waitFor(() => answers.length === 1, 'the answer on B/sketch');
      assert.equal(answers[0], 'ERROR: no sketch with id blink\n');
    } finally {
      await t.stop();
    }
  });

  it('makes the sketches family unavailable while its folder cannot be made, and brings it back', async () => {
    // A file where the data folder must go.
    const dir = await tempDir('ac-blocked-');
    const dataDir = join(dir.path, 'data');
    await writeFile(dataDir, 'not a folder');
    const blocked = await startMemoryAgent({ sketches_path: dataDir }, { restartDelayMs: 100 });
    try {
      const reply = await blocked.client.call('sketch', { id: 'x', action: 'STOP' });
      assert.equal(reply.ok, false);
      assert.match(reply.ok ? '' : reply.message, /^sketches unavailable: .*(EEXIST|ENOTDIR|not a directory)/);
      const upload = await blocked.client.call('upload', { id: 'x', name: 'x', url: 'http://127.0.0.1:1/x' });
      assert.match(upload.ok ? '' : upload.message, /^sketches unavailable/);
      // The rest of the agent serves meanwhile.
      assert.equal((await blocked.client.call('status', {})).ok, true);
      assert.ok(!blocked.agent.serving().includes('sketches'));

      await rm(dataDir);
      await waitFor(() => blocked.agent.serving().includes('sketches'), 'sketches to come back');
      const back = await blocked.client.call('sketch', { id: 'x', action: 'STOP' });
      assert.deepEqual(back, { ok: false, message: 'no sketch with id x' });
      assert.ok(blocked.logs.some((l) => l.includes('sketches is available again')));
      // The offline queue, in the same folder, is tried again too.
      assert.ok(blocked.logs.some((l) => l.includes('offline queue is unavailable')));
      await waitFor(() => blocked.logs.some((l) => l.includes('offline queue is available again')), 'the offline queue to come back');
      assert.equal((await stat(join(dataDir, 'outbox'))).mode & 0o777, 0o700);
    } finally {
      await blocked.stop();
      await dir.remove();
    }
  });
});
