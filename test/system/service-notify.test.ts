// The agent under a service manager, as systemd runs it with Type=notify and WatchdogSec=: the
// bundle with its addon beside it, a real unix datagram socket named by NOTIFY_SOCKET, real
// signals, and stderr on a stream that JOURNAL_STREAM names.

import assert from 'node:assert/strict';
import { closeSync, fstatSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildAgent } from '../../scripts/build.js';
import { createLogger } from '../../src/log.js';
import { loadNotifyAddon, notifyAddonFile, ServiceNotifier } from '../../src/system/service-notify.js';
import { freePort } from '../helpers/net.js';
import { assignments, startNotifyListener, type NotifyListener } from '../helpers/notify-listener.js';
import { startProcess, type Started } from '../helpers/process.js';
import { tempDir } from '../helpers/tmp.js';
import { sleep, waitFor } from '../helpers/wait.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const isWatchdog = (d: string) => assignments(d).get('WATCHDOG') === '1';

/** The process's state letter from /proc: 'T' once a SIGSTOP has taken effect. */
async function processState(pid: number): Promise<string> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}

describe('the agent under a service manager', () => {
  let outdir: string;
  let bin: string;
  let work: Awaited<ReturnType<typeof tempDir>>;
  let unreachable: string;
  const running = new Set<Started>();

  before(async () => {
    // Inside the checkout, so that the bundle's external packages resolve from node_modules.
    outdir = await mkdtemp(join(root, '.build-test-'));
    bin = await buildAgent(outdir);
    work = await tempDir('ac-service-');
    // A port nothing listens on: the broker of a device that booted without network.
    unreachable = `mqtt://127.0.0.1:${await freePort()}`;
  });

  after(async () => {
    for (const p of running) p.child.kill('SIGKILL');
    await rm(outdir, { recursive: true, force: true });
    await work?.remove();
  });

  function agentArgs(name: string): string[] {
    return ['-id', `svc-${name}`, '-url', unreachable, '-cert_path', '', '-sketches_path', join(work.path, name), '-drop_folder', join(work.path, name, 'drop'), '-log_level', 'debug'];
  }

  function startAgent(name: string, env: NodeJS.ProcessEnv): Started {
    const agent = startProcess(bin, agentArgs(name), { cwd: work.path, env: { PATH: process.env.PATH, ...env } });
    running.add(agent);
    return agent;
  }

  it('is ready with the broker unreachable, feeds the watchdog until stopped, and says STOPPING=1 on SIGTERM', async () => {
    const listener = await startNotifyListener();
    const addon = loadNotifyAddon(join(outdir, notifyAddonFile));
    assert.notEqual(typeof addon, 'string', String(addon));
    const mark = (text: string) => assert.equal((addon as Exclude<typeof addon, string>).send(listener.socket, `X-TEST=${text}`), 0);
    try {
      const agent = startAgent('notify', { NOTIFY_SOCKET: listener.socket, WATCHDOG_USEC: '200000' });
      const pid = agent.child.pid!;

      const ready = await listener.waitFor((d) => assignments(d).get('READY') === '1', 'READY=1');
      await listener.waitFor((d) => /^broker unreachable: .*ECONNREFUSED/.test(assignments(d).get('STATUS') ?? ''), 'STATUS=broker unreachable');
      let beat = ready;
      for (let i = 0; i < 3; i++) beat = await listener.waitFor(isWatchdog, `WATCHDOG=1 number ${i + 1} after READY`, beat + 1);

      // A stopped process runs nothing, as a hung event loop would not: the beats stop.
      agent.child.kill('SIGSTOP');
      await waitFor(async () => (await processState(pid)) === 'T', 'the agent to be stopped');
      mark('stopped');
      await sleep(1500); // 15 watchdog intervals
      mark('continued');
      agent.child.kill('SIGCONT');
      const to = await listener.waitFor((d) => d === 'X-TEST=continued', 'the second mark');
      const all = listener.datagrams();
      const from = all.indexOf('X-TEST=stopped');
      assert.ok(from >= 0 && to > from, JSON.stringify(all));
      assert.deepEqual(all.slice(from + 1, to), [], 'nothing is sent while the process is stopped');
      await listener.waitFor(isWatchdog, 'WATCHDOG=1 once the agent runs again', to + 1);

      agent.child.kill('SIGTERM');
      const exit = await agent.exit;
      assert.equal(exit.code, 0, agent.stderr());
      const stopping = await listener.waitFor((d) => assignments(d).get('STOPPING') === '1', 'STOPPING=1', to + 1, 5000);
      assert.equal(assignments(listener.datagrams()[stopping]!).get('STATUS'), 'SIGTERM: stopping');
      assert.match(agent.stderr(), /service manager notifications to .*watchdog fed every 100 ms/);
    } finally {
      await listener.close();
    }
  });

  it('stops feeding while its event loop is blocked', async () => {
    const listener = await startNotifyListener();
    const addonPath = join(outdir, notifyAddonFile);
    const addon = loadNotifyAddon(addonPath);
    assert.notEqual(typeof addon, 'string', String(addon));
    const mark = (text: string) => assert.equal((addon as Exclude<typeof addon, string>).send(listener.socket, `X-TEST=${text}`), 0);
    const logs: string[] = [];
    const notifier = new ServiceNotifier({
      log: createLogger({ level: 'debug', write: (line) => void logs.push(line) }),
      env: { NOTIFY_SOCKET: listener.socket, WATCHDOG_USEC: '100000', WATCHDOG_PID: String(process.pid) },
      addonPath,
    });
    try {
      assert.ok(notifier.active, logs.join(''));
      notifier.startWatchdog();
      let beat = -1;
      for (let i = 0; i < 3; i++) beat = await listener.waitFor(isWatchdog, `WATCHDOG=1 number ${i + 1}`, beat + 1);
      mark('blocked');
      // The loop is held for 20 intervals, as a long synchronous task or a hang would hold it.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
      mark('released');
      const released = await listener.waitFor((d) => d === 'X-TEST=released', 'the second mark');
      const all = listener.datagrams();
      assert.deepEqual(all.slice(all.indexOf('X-TEST=blocked') + 1, released), [], 'no beat while the loop is blocked');
      await listener.waitFor(isWatchdog, 'WATCHDOG=1 once the loop runs again', released + 1);
    } finally {
      notifier.stopWatchdog();
      await listener.close();
    }
  });

  it('reaches a socket in the abstract namespace, and says once why a send fails', async () => {
    const listener = await startNotifyListener({ abstract: true });
    const logs: string[] = [];
    const log = createLogger({ level: 'debug', write: (line) => void logs.push(line) });
    const addonPath = join(outdir, notifyAddonFile);
    try {
      const notifier = new ServiceNotifier({ log, env: { NOTIFY_SOCKET: listener.socket }, addonPath });
      notifier.status('connected to mqtt://example (MQTT 5)');
      notifier.ready('started');
      await listener.waitFor((d) => d === 'READY=1\nSTATUS=connected to mqtt://example (MQTT 5)', 'READY=1 with the last status');
      assert.deepEqual(listener.datagrams(), ['STATUS=connected to mqtt://example (MQTT 5)', 'READY=1\nSTATUS=connected to mqtt://example (MQTT 5)']);
    } finally {
      await listener.close();
    }
    const gone = new ServiceNotifier({ log, env: { NOTIFY_SOCKET: join(work.path, 'nobody-listens') }, addonPath });
    gone.status('one');
    gone.status('two');
    assert.equal(logs.filter((line) => / WARN  cannot notify the service manager at .*nobody-listens: ENOENT/.test(line)).length, 1, logs.join(''));
  });

  it('runs without the addon: one debug line without NOTIFY_SOCKET, an error with it', async () => {
    // The sources run through tsx: no addon beside src/system/.
    const tsxAgent = (name: string, env: NodeJS.ProcessEnv) => {
      const agent = startProcess(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...agentArgs(name)], { cwd: root, env: { PATH: process.env.PATH, ...env } });
      running.add(agent);
      return agent;
    };
    const plain = tsxAgent('plain', {});
    const withSocket = tsxAgent('socket', { NOTIFY_SOCKET: join(work.path, 'nobody-listens') });
    for (const agent of [plain, withSocket]) await waitFor(() => /serving \d+ commands/.test(agent.stderr()), 'the agent to serve', 30_000);
    for (const agent of [plain, withSocket]) {
      agent.child.kill('SIGTERM');
      assert.equal((await agent.exit).code, 0, agent.stderr());
    }
    const unset = plain.stderr().split('\n').filter((line) => /NOTIFY_SOCKET unset/.test(line));
    assert.equal(unset.length, 1, plain.stderr());
    assert.match(unset[0]!, / DEBUG /);
    assert.match(withSocket.stderr(), / ERROR NOTIFY_SOCKET is set but the agent cannot notify the service manager: .*sd-notify\.node is missing/);
  });

  it('writes priority-prefixed lines without a timestamp when stderr is the stream JOURNAL_STREAM names', async () => {
    const file = join(work.path, 'journal.log');
    await writeFile(file, '');
    const fd = openSync(file, 'a');
    const { dev, ino } = fstatSync(fd, { bigint: true });
    const journalStream = `${dev}:${ino}`;
    try {
      const child = spawn(bin, agentArgs('journal'), { cwd: work.path, env: { PATH: process.env.PATH, JOURNAL_STREAM: journalStream }, stdio: ['ignore', 'ignore', fd] });
      const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      await waitFor(async () => /<4>WARN  \[mqtt\] connection failed/.test(await readFile(file, 'utf8')), 'a warning in the journal stream');
      child.kill('SIGTERM');
      assert.equal(await exit, 0);

      // A fatal start error is priority 3.
      const broken = spawn(bin, ['-url', unreachable], { cwd: work.path, env: { PATH: process.env.PATH, JOURNAL_STREAM: journalStream }, stdio: ['ignore', 'ignore', fd] });
      assert.equal(await new Promise((r) => broken.once('exit', r)), 2);
    } finally {
      closeSync(fd);
    }
    const lines = (await readFile(file, 'utf8')).split('\n').filter((line) => line !== '');
    for (const line of lines) {
      assert.match(line, /^<[3467]>/, line);
      assert.doesNotMatch(line, /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/, line);
    }
    for (const prefix of ['<7>DEBUG ', '<6>INFO  ', '<4>WARN  ']) assert.ok(lines.some((line) => line.startsWith(prefix)), prefix);
    assert.ok(lines.includes('<3>arduino-connector: no device id: set id in the config file, -id or ID'), lines.join('\n'));

    // The variable inherited by a process whose stderr goes elsewhere (a pipe here) is ignored.
    const piped = startAgent('piped', { JOURNAL_STREAM: journalStream });
    await waitFor(() => /WARN  \[mqtt\] connection failed/.test(piped.stderr()), 'a warning on the pipe');
    piped.child.kill('SIGTERM');
    await piped.exit;
    for (const line of piped.stderr().split('\n').filter(Boolean)) assert.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO |WARN |ERROR) /, line);
  });
});
