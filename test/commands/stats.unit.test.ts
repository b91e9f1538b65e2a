// stats over the in-memory broker: without its memory figures the family is unavailable, and it
// answers again as soon as they can be read; without NetworkManager only the network part is left out.

import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import { decodeBody, type StatsBody } from '../../src/api.js';
import { startMemoryAgent } from '../helpers/memory-agent.js';
import { tempDir } from '../helpers/tmp.js';

it('is unavailable while the memory figures cannot be read, and answers once they can', async () => {
  const dir = await tempDir('ac-stats-');
  const meminfoPath = join(dir.path, 'meminfo');
  const t = await startMemoryAgent({}, { featureOptions: { stats: { meminfoPath, systemBusAddress: `unix:path=${join(dir.path, 'no-bus')}` } } });
  try {
    const missing = await t.client.call('stats', {});
    assert.equal(missing.ok, false);
    assert.match(missing.ok ? '' : missing.message, /^stats unavailable: cannot read the memory figures: ENOENT/);
    assert.equal((await t.client.call('status', {})).ok, true);

    // procfs reports a size of 0, so copyFile would copy nothing.
    await writeFile(meminfoPath, await readFile('/proc/meminfo'));
    const reply = await t.client.call('stats', {});
    assert.ok(reply.ok, reply.ok ? '' : reply.message);
    const body = decodeBody(reply.body) as StatsBody;
    assert.ok(body.memory.TotalMem > 0);
    assert.ok(body.disk.some((d) => d.MountPoint === '/'));
    assert.equal(body.network, null);
    assert.match(body.errors?.network ?? '', /no-bus/);
  } finally {
    await t.stop();
    await dir.remove();
  }
});
