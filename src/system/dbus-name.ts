// Whether a service owns its well-known name on a D-Bus bus now (NetworkManager, say): one
// NameHasOwner call to the bus daemon, on a connection opened for it and closed after, bounded in
// time. No bus, a bus that refuses the connection or does not answer: false.

import { errorMessage, type Logger } from '../log.js';

export interface NameOwnerOptions {
  /** A D-Bus address (`unix:path=...`); default: the system bus (DBUS_SYSTEM_BUS_ADDRESS or the
   * standard socket). */
  busAddress?: string;
  timeoutMs?: number;
  log?: Logger;
}

export async function busNameHasOwner(name: string, options: NameOwnerOptions = {}): Promise<boolean> {
  const timeoutMs = options.timeoutMs ?? 2000;
  const { default: dbus } = await import('dbus-next');
  const address = options.busAddress ?? process.env.DBUS_SYSTEM_BUS_ADDRESS;
  if (address !== undefined && !/^[a-z]+:/i.test(address)) return false;
  let bus: ReturnType<typeof dbus.systemBus>;
  try {
    bus = options.busAddress ? dbus.sessionBus({ busAddress: options.busAddress }) : dbus.systemBus();
  } catch (err) {
    options.log?.debug(`D-Bus connection not opened: ${errorMessage(err)}`);
    return false;
  }
  let timer: NodeJS.Timeout | undefined;
  const failed = new Promise<boolean>((resolve) => {
    // Kept for the connection's life: a late socket error must not become an uncaught 'error'.
    bus.on('error', (err: unknown) => {
      options.log?.debug(`D-Bus connection failed: ${errorMessage(err)}`);
      resolve(false);
    });
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  const asked = (async () => {
    const message = new dbus.Message({
      destination: 'org.freedesktop.DBus',
      path: '/org/freedesktop/DBus',
      interface: 'org.freedesktop.DBus',
      member: 'NameHasOwner',
      signature: 's',
      body: [name],
    });
    const reply = await bus.call(message);
    return reply?.body[0] === true;
  })().catch((err: unknown) => {
    options.log?.debug(`NameHasOwner ${name}: ${errorMessage(err)}`);
    return false;
  });
  try {
    return await Promise.race([asked, failed]);
  } finally {
    clearTimeout(timer);
    bus.disconnect();
  }
}
