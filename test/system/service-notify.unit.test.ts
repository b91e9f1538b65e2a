// What the agent takes from the variables a service manager sets (systemd.exec(5)).

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { readNotifyEnvironment } from '../../src/system/service-notify.js';

it('takes a socket path or an abstract name, and feeds the watchdog every WATCHDOG_USEC/2', () => {
  assert.deepEqual(readNotifyEnvironment({ NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '30000000' }, 42), {
    socket: '/run/systemd/notify',
    watchdogIntervalMs: 15_000,
    ignored: [],
  });
  assert.deepEqual(readNotifyEnvironment({ NOTIFY_SOCKET: '@/org/freedesktop/systemd1/notify', WATCHDOG_USEC: '30000000', WATCHDOG_PID: '42' }, 42), {
    socket: '@/org/freedesktop/systemd1/notify',
    watchdogIntervalMs: 15_000,
    ignored: [],
  });
  assert.deepEqual(readNotifyEnvironment({}, 42), { socket: undefined, watchdogIntervalMs: undefined, ignored: [] });
});

it('leaves the watchdog of another process alone, and says why it ignores a variable', () => {
  const other = readNotifyEnvironment({ NOTIFY_SOCKET: '/run/n', WATCHDOG_USEC: '30000000', WATCHDOG_PID: '7' }, 42);
  assert.equal(other.socket, '/run/n');
  assert.equal(other.watchdogIntervalMs, undefined);
  assert.match(other.ignored.join(), /WATCHDOG_PID=7: the watchdog is another process's \(this is 42\)/);

  for (const usec of ['0', '-5', '3s', '1e9']) {
    const bad = readNotifyEnvironment({ NOTIFY_SOCKET: '/run/n', WATCHDOG_USEC: usec }, 42);
    assert.equal(bad.watchdogIntervalMs, undefined, usec);
    assert.match(bad.ignored.join(), /not a positive number of microseconds/, usec);
  }

  const vsock = readNotifyEnvironment({ NOTIFY_SOCKET: 'vsock:2:1234' }, 42);
  assert.equal(vsock.socket, undefined);
  assert.match(vsock.ignored.join(), /NOTIFY_SOCKET=vsock:2:1234: only a unix socket path or an @abstract name/);
});
