// The command table is checked by the compiler: `npm test` type-checks this file, and each
// expected-error directive below fails the type check if its table were accepted. At run time,
// serveFamily calls the method the table names, on the feature.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { AnswerOf, RequestOf } from '../src/api.js';
import { Feature, serveFamily, type CommandTable } from '../src/feature.js';
import { silentLogger } from '../src/log.js';
import { MemoryBroker } from '../src/mqtt/memory-bus.js';
import { WritableMount } from '../src/system/ro-fs.js';

class Renamer extends Feature<{ prefix: string }> {
  readonly name = 'renamer';
  async ps(): Promise<AnswerOf<'containers/ps'>> {
    return [];
  }
  async images(): Promise<AnswerOf<'containers/images'>> {
    return [];
  }
  async action(): Promise<AnswerOf<'containers/action'>> {
    return [];
  }
  async rename(request: RequestOf<'containers/rename'>): Promise<AnswerOf<'containers/rename'>> {
    return { id: request.id, name: `${this.options.prefix}${request.name}` };
  }
}

const table = {
  'containers/ps': 'ps',
  'containers/images': 'images',
  'containers/action': 'action',
  'containers/rename': 'rename',
} as const satisfies CommandTable<'containers', Renamer>;

// A command of the family without its method.
// @ts-expect-error 'containers/rename' is missing
const missing = { 'containers/ps': 'ps', 'containers/images': 'images', 'containers/action': 'action' } as const satisfies CommandTable<'containers', Renamer>;
// A method that does not answer the command it is given.
// @ts-expect-error rename takes a rename request and returns its answer, not a container list
const wrong = { 'containers/ps': 'rename', 'containers/images': 'images', 'containers/action': 'action', 'containers/rename': 'rename' } as const satisfies CommandTable<'containers', Renamer>;
// A command of another family.
const extra = {
  'containers/ps': 'ps',
  'containers/images': 'images',
  'containers/action': 'action',
  'containers/rename': 'rename',
  // @ts-expect-error stats is not a command of the containers family
  stats: 'ps',
} as const satisfies CommandTable<'containers', Renamer>;

it('serves a family through its command table, calling the method on its feature', async () => {
  const deps = { bus: new MemoryBroker().client(), base: 'dev', log: silentLogger, writable: new WritableMount({ enabled: false }) };
  const served = serveFamily('containers', new Renamer(deps, { prefix: 'new-' }), table);
  assert.equal(served.family, 'containers');
  assert.deepEqual(await served.handle('containers/rename', { id: 'a', name: 'b' }, { command: 'containers/rename', log: silentLogger }), { id: 'a', name: 'new-b' });
  assert.ok(missing && wrong && extra);
});
