// The service manager's end of sd_notify(3): a real AF_UNIX datagram socket, bound by a small
// python3 program (node cannot bind one), that hands every datagram it receives to the test in
// the order the kernel queued them.

import { join } from 'node:path';
import { startProcess, type Started } from './process.js';
import { tempDir } from './tmp.js';
import { waitFor } from './wait.js';

const program = `
import json, socket, sys
name = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\\0" + name[1:] if name.startswith("@") else name)
print(json.dumps("listening"), flush=True)
while True:
    print(json.dumps(s.recv(65536).decode("utf-8", "replace")), flush=True)
`;

export interface NotifyListener {
  /** What NOTIFY_SOCKET says. */
  socket: string;
  /** Every datagram so far, oldest first. */
  datagrams(): string[];
  /** Waits for a datagram after index `from` that `match` accepts; returns its index. */
  waitFor(match: (datagram: string) => boolean, what: string, from?: number, timeoutMs?: number): Promise<number>;
  close(): Promise<void>;
}

/** `abstract`: a name in the abstract namespace (@…), as systemd's own socket may be. */
export async function startNotifyListener(options: { abstract?: boolean } = {}): Promise<NotifyListener> {
  const dir = await tempDir('ac-notify-');
  const socket = options.abstract ? `@${dir.path}/notify` : join(dir.path, 'notify');
  // /usr/bin/python3: the python3 first on PATH may be another build (TEST-ENVIRONMENT.md).
  const listener: Started = startProcess('/usr/bin/python3', ['-u', '-c', program, socket]);
  const parsed = () =>
    listener
      .stdout()
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as string);
  await waitFor(() => parsed()[0] === 'listening', `the notify listener on ${socket} (${listener.stderr()})`);
  const datagrams = () => parsed().slice(1);
  return {
    socket,
    datagrams,
    waitFor: async (match, what, from = 0, timeoutMs = 20_000) =>
      waitFor(
        () => {
          const all = datagrams();
          for (let i = from; i < all.length; i++) if (match(all[i]!)) return i + 1;
          return 0;
        },
        what,
        timeoutMs,
      ).then((oneBased) => oneBased - 1),
    close: async () => {
      listener.child.kill('SIGKILL');
      await listener.exit;
      await dir.remove();
    },
  };
}

/** The assignments of a datagram (READY=1\nSTATUS=…) as a map. */
export function assignments(datagram: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of datagram.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) map.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return map;
}
