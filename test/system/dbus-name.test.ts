// The hand-written NameHasOwner against a real dbus-daemon: a name someone owns, one nobody owns,
// no bus at the address, a socket that never answers; and the unix socket of a D-Bus address.

import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { busNameHasOwner, unixSocketOf } from '../../src/system/dbus-name.js';
import { startDbusDaemon, type DbusDaemon } from '../helpers/dbusmock.js';
import { tempDir } from '../helpers/tmp.js';

describe('busNameHasOwner', () => {
  let bus: DbusDaemon;

  before(async () => {
    bus = await startDbusDaemon();
  });
  after(async () => {
    await bus?.close();
  });

  it('true for a name someone owns, false for one nobody owns', async () => {
    assert.equal(await busNameHasOwner('org.example.PresenceTest', { busAddress: bus.address }), false);
    await bus.client.requestName('org.example.PresenceTest', 0);
    assert.equal(await busNameHasOwner('org.example.PresenceTest', { busAddress: bus.address }), true);
    // The bus daemon's own name, asked many times in a row: one connection each, all closed.
    const answers = await Promise.all(Array.from({ length: 20 }, () => busNameHasOwner('org.freedesktop.DBus', { busAddress: bus.address })));
    assert.deepEqual(new Set(answers), new Set([true]));
  });

  it('false with no bus at the address, and with a socket that never answers', async () => {
    const dir = await tempDir('ac-dbus-name-');
    const silent = createServer(() => {});
    try {
      assert.equal(await busNameHasOwner('org.freedesktop.DBus', { busAddress: `unix:path=${join(dir.path, 'none')}` }), false);
      assert.equal(await busNameHasOwner('org.freedesktop.DBus', { busAddress: 'tcp:host=127.0.0.1,port=1' }), false);
      await new Promise<void>((resolve) => silent.listen(join(dir.path, 'silent'), resolve));
      assert.equal(await busNameHasOwner('org.freedesktop.DBus', { busAddress: `unix:path=${join(dir.path, 'silent')}`, timeoutMs: 200 }), false);
    } finally {
      silent.close();
      await dir.remove();
    }
  });

  it('the unix socket of an address: path (escaped), abstract, the first unix one of several', () => {
    assert.equal(unixSocketOf('unix:path=/run/dbus/system_bus_socket'), '/run/dbus/system_bus_socket');
    assert.equal(unixSocketOf('unix:path=/tmp/a%20b,guid=0123'), '/tmp/a b');
    assert.equal(unixSocketOf('unix:abstract=/tmp/dbus-x'), '\0/tmp/dbus-x');
    assert.equal(unixSocketOf('tcp:host=localhost,port=1;unix:path=/s'), '/s');
    assert.equal(unixSocketOf('tcp:host=localhost,port=1'), undefined);
  });
});
