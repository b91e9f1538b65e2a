// The node flags are written twice: in the bin's shebang (what `./dist/arduino-connector.js` runs
// with) and in NODE_FLAGS (what the unit and the release's launcher run with). They must agree.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { it } from 'node:test';
import { NODE_FLAGS } from '../../src/service/node-flags.js';

it('the shebang of src/cli/main.ts carries exactly NODE_FLAGS', async () => {
  const source = await readFile(new URL('../../src/cli/main.ts', import.meta.url), 'utf8');
  const shebang = source.split('\n')[0] ?? '';
  assert.equal(shebang, `#!/usr/bin/env -S node ${NODE_FLAGS.join(' ')}`);
});
