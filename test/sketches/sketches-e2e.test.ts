// Sketches end to end: a real mosquitto, the real agent, a real HTTP server with openssl-signed
// test binaries (shell scripts and programs compiled here with gcc), real processes.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { decodeBody, topics, type Reply, type SketchStatus, type StatusBody } from '../../src/api.js';
import { processStateLetter } from '../../src/sketches/process.js';
import { startHttpServer, type TestHttpServer } from '../helpers/http-server.js';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { makeKeyPair, signFile, type TestKeyPair } from '../helpers/signing.js';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const run = promisify(execFile);
const token = 'test-bearer-token';
const maxSketchSize = 4 * 1024 * 1024;

let work: { path: string; remove(): Promise<void> };
let www: string;
let broker: Broker;
let server: TestHttpServer;
let keys: TestKeyPair;
let otherKeys: TestKeyPair;

/** Puts a file on the HTTP server, signed with the test key unless told otherwise. */
async function publish(name: string, content: string | Buffer, sign: 'good' | 'wrong' | 'none' = 'good'): Promise<string> {
  const file = join(www, name);
  await writeFile(file, content);
  if (sign === 'good') await signFile(keys.privateKeyPath, file);
  if (sign === 'wrong') await signFile(otherKeys.privateKeyPath, file);
  return server.url(`/${name}`);
}

async function publishFile(name: string, source: string): Promise<string> {
  return publish(name, await readFile(source));
}

const script = (body: string) => `#!/bin/sh\n${body}\n`;

async function compile(name: string, source: string, extra: string[] = []): Promise<string> {
  const c = join(work.path, `${name}.c`);
  const out = join(work.path, name);
  await writeFile(c, source);
  await run('gcc', ['-O2', '-o', out, c, ...extra]);
  return out;
}

/** A sketch that ignores SIGTERM is killed after this grace instead of the default 3 s. */
const quickStops = { featureOptions: { sketches: { stopGraceMs: 500 } } };

function agentSettings(extra: Record<string, unknown> = {}) {
  return { signature_key: keys.publicKeyPath, max_sketch_size: maxSketchSize, ...extra };
}

async function status(t: TestAgent): Promise<Record<string, SketchStatus>> {
  const reply = await t.client.call('status', {});
  assert.ok(reply.ok, !reply.ok ? reply.message : '');
  return (decodeBody(reply.body) as StatusBody).sketches;
}

function upload(t: TestAgent, id: string, name: string, url: string, withToken = true): Promise<Reply> {
  return t.client.call('upload', { id, name, url, ...(withToken ? { token } : {}) }, 30_000);
}

function action(t: TestAgent, id: string, act: 'START' | 'STOP' | 'PAUSE' | 'DELETE'): Promise<Reply> {
  return t.client.call('sketch', { id, action: act }, 30_000);
}

function pidOf(reply: Reply): number {
  assert.ok(reply.ok, !reply.ok ? reply.message : '');
  const match = /^Sketch started with PID (\d+)$/.exec(reply.body);
  assert.ok(match, reply.body);
  return Number(match[1]);
}

/** Collects everything published on a topic of the agent. */
async function collect(t: TestAgent, topic: string) {
  const chunks: Buffer[] = [];
  await t.client.follow(topic, (_t, payload) => chunks.push(payload));
  return { text: () => Buffer.concat(chunks).toString('latin1'), messages: chunks };
}

const sketchesDir = (t: TestAgent) => join(t.settings.sketches_path, 'sketches');
const listSketchFiles = async (t: TestAgent) => (await readdir(sketchesDir(t))).filter((f) => f !== 'lib').sort();

before(async () => {
  work = await tempDir('ac-sketches-e2e-');
  www = join(work.path, 'www');
  await mkdir(www);
  [broker, server, keys, otherKeys] = await Promise.all([
    startMosquitto(),
    startHttpServer({ folder: www, token }),
    makeKeyPair(work.path, { name: 'publisher' }),
    makeKeyPair(work.path, { name: 'stranger' }),
  ]);
});
after(async () => {
  await server?.close();
  await broker?.close();
  await work?.remove();
});

describe('upload and supervision', () => {
  let t: TestAgent;
  before(async () => {
    t = await startTestAgent(broker.url, agentSettings(), quickStops);
  });
  after(async () => t?.stop());

  it('uploads a compiled program, runs it, and its output arrives on B/stdout and B/sketches/<id>/stdout', async () => {
    const binary = await compile('hello', '#include <stdio.h>\n#include <unistd.h>\nint main(void){printf("hello from C\\n");fflush(stdout);for(;;)pause();}\n');
    const url = await publishFile('hello', binary);
    const all = await collect(t, topics.stdout(t.agent.base));
    const mine = await collect(t, topics.sketchStdout(t.agent.base, 'c-hello'));
    const statuses = await collect(t, topics.status(t.agent.base));
    const pid = pidOf(await upload(t, 'c-hello', 'hello', url));
    await waitFor(() => mine.text().includes('hello from C\r\n'), 'the per-sketch output');
    await waitFor(() => all.text().includes('hello from C\r\n'), 'the output on B/stdout');
    const s = (await status(t))['c-hello'];
    assert.deepEqual(s, { name: 'hello', id: 'c-hello', pid, status: 'RUNNING', endpoints: null });
    assert.equal((await stat(join(sketchesDir(t), 'hello'))).mode & 0o777, 0o700);
    assert.equal((await stat(sketchesDir(t))).mode & 0o777, 0o700);
    await waitFor(() => statuses.text().includes('"c-hello"'), 'B/status after the upload');
    const auth = server.requests.filter((r) => r.path === '/hello' || r.path === '/hello.sig');
    assert.equal(auth.length, 2);
    for (const r of auth) assert.equal(r.headers.authorization, `Bearer ${token}`);
  });

  it('round-trips stdin: B/stdin to the most recent sketch, B/sketches/<id>/stdin to a chosen one', async () => {
    const url = await publish('echo.sh', script('while read line; do echo "echo:$line"; done'));
    const out = await collect(t, topics.sketchStdout(t.agent.base, 'echo'));
    pidOf(await upload(t, 'echo', 'echo.sh', url));
    await t.client.publish(topics.stdin(t.agent.base), 'ping\r');
    await waitFor(() => out.text().includes('echo:ping\r\n'), 'the echo of B/stdin');
    // Another sketch started later takes B/stdin; the per-sketch topic still reaches this one.
    const url2 = await publish('sink.sh', script('while read line; do echo "sink:$line"; done'));
    const sink = await collect(t, topics.sketchStdout(t.agent.base, 'sink'));
    pidOf(await upload(t, 'sink', 'sink.sh', url2));
    await t.client.publish(topics.stdin(t.agent.base), 'to-latest\r');
    await waitFor(() => sink.text().includes('sink:to-latest'), 'B/stdin at the newest sketch');
    await t.client.publish(topics.sketchStdin(t.agent.base, 'echo'), 'direct\r');
    await waitFor(() => out.text().includes('echo:direct\r\n'), 'the echo of B/sketches/echo/stdin');
    assert.ok(!out.text().includes('to-latest'));
    await action(t, 'sink', 'DELETE');
  });

  describe('failed uploads: ERROR naming the step, nothing left behind, the previous sketch intact', () => {
    let pid: number;
    let original: Buffer;
    before(async () => {
      const url = await publish('keeper.sh', script('echo keeper; while :; do sleep 1; done'));
      pid = pidOf(await upload(t, 'keeper', 'keeper.sh', url));
      original = await readFile(join(sketchesDir(t), 'keeper.sh'));
    });

    const cases: [string, () => Promise<string>, RegExp, boolean?][] = [
      ['a wrong signature', () => publish('bad-sig.sh', script('echo evil'), 'wrong'), /signature check failed/],
      ['a missing .sig', () => publish('no-sig.sh', script('echo unsigned'), 'none'), /signature download failed.*404/],
      ['HTTP 404', async () => server.url('/nowhere.sh'), /download failed: .*404/],
      ['HTTP 500', async () => {
        const url = await publish('five.sh', script('echo five'));
        server.behave('/five.sh', { kind: 'status', status: 500 });
        return url;
      }, /download failed: .*500/],
      ['a connection cut mid-download', async () => {
        const url = await publish('cut.bin', Buffer.alloc(512 * 1024, 1));
        server.behave('/cut.bin', { kind: 'cut', afterBytes: 100 * 1024 });
        return url;
      }, /download failed/],
      ['a file over max_sketch_size', () => publish('huge.bin', Buffer.alloc(maxSketchSize + 1, 2)), /larger than/],
      ['a wrong token', () => publish('private.sh', script('echo private')), /download failed: .*401/, false],
    ];
    for (const [what, makeUrl, expected, withToken] of cases) {
      it(`refuses ${what}`, async () => {
        const url = await makeUrl();
        const filesBefore = await listSketchFiles(t);
        const reply = withToken === false ? await t.client.call('upload', { id: 'keeper', name: 'other-name', url, token: 'wrong' }) : await upload(t, 'keeper', 'other-name', url);
        assert.equal(reply.ok, false, `${what} must fail`);
        assert.match(!reply.ok ? reply.message : '', expected);
        assert.deepEqual(await listSketchFiles(t), filesBefore, 'no temporary or new file left');
        const s = (await status(t)).keeper;
        assert.equal(s?.status, 'RUNNING');
        assert.equal(s?.pid, pid, 'the previous sketch kept running');
        assert.notEqual(await processStateLetter(pid), undefined);
        assert.deepEqual(await readFile(join(sketchesDir(t), 'keeper.sh')), original);
      });
    }

    it('refuses names and ids that would leave the sketches folder, before any download', async () => {
      const requestsBefore = server.requests.length;
      // Sent raw: the client would refuse them itself.
      for (const [id, name] of [['../escape', 'x'], ['ok', '../../etc/passwd'], ['ok', 'a/b'], ['ok', '..'], ['ok', 'nul\u0000x'], ['.hidden', 'x']]) {
        const reply = await t.client.callRaw('upload', JSON.stringify({ id, name, url: server.url('/hello'), token }));
        assert.equal(reply.ok, false, `${id} / ${name}`);
      }
      for (const body of [{ id: '../escape', name: 'x' }, { id: 'ok', name: '../../x' }, { id: 'ok', name: 'a/b' }]) {
        const reply = await t.client.callRaw('upload', JSON.stringify({ ...body, url: server.url('/hello'), token }));
        assert.equal(reply.ok, false);
        assert.match(!reply.ok ? reply.message : '', /file name/);
      }
      const ftp = await t.client.callRaw('upload', JSON.stringify({ id: 'ok', name: 'ok', url: 'ftp://127.0.0.1/x', token }));
      assert.equal(ftp.ok, false);
      assert.equal(server.requests.length, requestsBefore, 'nothing was downloaded');
      assert.equal((await status(t)).ok, undefined);
    });

    it('leaves a PAUSED sketch paused when its replacement fails', async () => {
      const url = await publish('napper.sh', script('while :; do sleep 0.1; done'));
      const napper = pidOf(await upload(t, 'napper', 'napper.sh', url));
      assert.ok((await action(t, 'napper', 'PAUSE')).ok);
      const reply = await upload(t, 'napper', 'napper.sh', await publish('napper-bad.sh', script('echo evil'), 'wrong'));
      assert.equal(reply.ok, false);
      assert.deepEqual((await status(t)).napper, { name: 'napper.sh', id: 'napper', pid: napper, status: 'PAUSED', endpoints: null });
      assert.equal(await processStateLetter(napper), 'T');
      assert.ok((await action(t, 'napper', 'DELETE')).ok);
    });

    it('replaces a sketch with the same id only once the new one verified', async () => {
      const url = await publish('keeper-v2.sh', script('echo keeper-v2; while :; do sleep 1; done'));
      const out = await collect(t, topics.sketchStdout(t.agent.base, 'keeper'));
      const newPid = pidOf(await upload(t, 'keeper', 'keeper-v2.sh', url));
      assert.notEqual(newPid, pid);
      await waitFor(async () => (await processStateLetter(pid)) === undefined, 'the old process to be gone');
      await waitFor(() => out.text().includes('keeper-v2'), 'the new output');
      const files = await listSketchFiles(t);
      assert.ok(files.includes('keeper-v2.sh') && !files.includes('keeper.sh'), files.join(','));
      assert.equal((await status(t)).keeper?.name, 'keeper-v2.sh');
    });
  });

  it('STOP, START, PAUSE, START again and DELETE', async () => {
    const url = await publish('ticker.sh', script('i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.02; done'));
    const out = await collect(t, topics.sketchStdout(t.agent.base, 'ticker'));
    const pid = pidOf(await upload(t, 'ticker', 'ticker.sh', url));

    assert.deepEqual(await action(t, 'ticker', 'STOP'), { ok: true, body: 'successfully performed STOP on sketch ticker' });
    assert.equal(await processStateLetter(pid), undefined, 'stopped and reaped');
    assert.deepEqual((await status(t)).ticker, { name: 'ticker.sh', id: 'ticker', pid: 0, status: 'STOPPED', endpoints: null });

    assert.deepEqual(await action(t, 'ticker', 'START'), { ok: true, body: 'successfully performed START on sketch ticker' });
    const running = (await status(t)).ticker!;
    assert.equal(running.status, 'RUNNING');
    assert.ok(running.pid > 0 && running.pid !== pid);

    assert.deepEqual(await action(t, 'ticker', 'PAUSE'), { ok: true, body: 'successfully performed PAUSE on sketch ticker' });
    assert.equal((await status(t)).ticker?.status, 'PAUSED');
    assert.equal(await processStateLetter(running.pid), 'T');
    // Output the terminal held before the pause may still be on its way; then nothing more comes.
    await new Promise((r) => setTimeout(r, 400));
    const frozen = out.text().length;
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(out.text().length, frozen, 'no output while paused');

    assert.ok((await action(t, 'ticker', 'START')).ok);
    assert.equal((await status(t)).ticker?.status, 'RUNNING');
    assert.equal((await status(t)).ticker?.pid, running.pid, 'resumed, not restarted');
    await waitFor(() => out.text().length > frozen, 'output after resuming');

    assert.deepEqual(await action(t, 'ticker', 'DELETE'), { ok: true, body: 'successfully performed DELETE on sketch ticker' });
    assert.equal(await processStateLetter(running.pid), undefined);
    assert.equal((await status(t)).ticker, undefined);
    assert.ok(!(await listSketchFiles(t)).includes('ticker.sh'));
    const table = JSON.parse(await readFile(join(t.settings.sketches_path, 'sketches.json'), 'utf8')) as { sketches: { id: string }[] };
    assert.ok(!table.sketches.some((s) => s.id === 'ticker'));
  });

  it('answers ERROR for an unknown id, and for PAUSE of a stopped sketch', async () => {
    const unknown = await action(t, 'no-such-sketch', 'START');
    assert.equal(unknown.ok, false);
    assert.match(!unknown.ok ? unknown.message : '', /no sketch with id no-such-sketch/);
    const url = await publish('idle.sh', script('sleep 30'));
    pidOf(await upload(t, 'idle', 'idle.sh', url));
    assert.ok((await action(t, 'idle', 'STOP')).ok);
    const pause = await action(t, 'idle', 'PAUSE');
    assert.equal(pause.ok, false);
    assert.equal((await status(t)).idle?.status, 'STOPPED');
    const bad = await t.client.callRaw('sketch', JSON.stringify({ id: 'idle', action: 'EXPLODE' }));
    assert.equal(bad.ok, false);
    await action(t, 'idle', 'DELETE');
  });

  it('a sketch that exits by itself becomes STOPPED with its exit code, and B/status says so', async () => {
    const url = await publish('short.sh', script('echo bye; exit 3'));
    const statuses = await collect(t, topics.status(t.agent.base));
    pidOf(await upload(t, 'short', 'short.sh', url));
    const ended = await waitFor(() => statuses.messages.map((m) => decodeBody(m.toString().slice(6).trim()) as StatusBody).find((b) => b.sketches.short?.status === 'STOPPED'), 'B/status with the sketch stopped');
    assert.deepEqual(ended.sketches.short, { name: 'short.sh', id: 'short', pid: 0, status: 'STOPPED', endpoints: null, exit_code: 3, signal: null });
    assert.deepEqual((await status(t)).short, ended.sketches.short);
  });

  it('STOP ends a sketch that ignores SIGTERM (SIGKILL after the grace period)', async () => {
    const url = await publish('stubborn.sh', script('trap "" TERM; echo stubborn; while :; do sleep 0.1; done'));
    const out = await collect(t, topics.sketchStdout(t.agent.base, 'stubborn'));
    const pid = pidOf(await upload(t, 'stubborn', 'stubborn.sh', url));
    await waitFor(() => out.text().includes('stubborn'), 'the sketch to set its trap');
    assert.ok((await action(t, 'stubborn', 'STOP')).ok);
    assert.equal(await processStateLetter(pid), undefined, 'killed and reaped');
    assert.equal((await status(t)).stubborn?.status, 'STOPPED');
  });

  it('names a missing shared library in an ERROR on B/upload; with the library in <sketches>/lib it runs', async () => {
    const libSource = join(work.path, 'acmissing.c');
    await writeFile(libSource, 'int ac_answer(void){return 42;}\n');
    const lib = join(work.path, 'libacmissing.so');
    await run('gcc', ['-shared', '-fPIC', '-o', lib, libSource]);
    const binary = await compile('needslib', '#include <stdio.h>\nint ac_answer(void);\nint main(void){printf("answer %d\\n", ac_answer());return 0;}\n', [`-L${work.path}`, '-lacmissing']);
    const url = await publishFile('needslib', binary);
    const uploads = await collect(t, topics.answer(t.agent.base, 'upload'));
    pidOf(await upload(t, 'needslib', 'needslib', url));
    const error = await waitFor(() => uploads.messages.map(String).find((m) => m.startsWith('ERROR:')), 'the ERROR on B/upload');
    assert.match(error, /libacmissing\.so/);
    const ended = await waitFor(async () => {
      const s = (await status(t)).needslib;
      return s?.status === 'STOPPED' ? s : undefined;
    }, 'the loader to give up');
    assert.equal(ended.exit_code, 127);

    await mkdir(join(sketchesDir(t), 'lib'), { recursive: true });
    await copyFile(lib, join(sketchesDir(t), 'lib', 'libacmissing.so'));
    const out = await collect(t, topics.sketchStdout(t.agent.base, 'needslib'));
    assert.ok((await action(t, 'needslib', 'START')).ok);
    await waitFor(() => out.text().includes('answer 42'), 'the program to find its library');
  });

  it('installs a file from the drop folder as sketchLoadedThroughUSB and starts it', async () => {
    const out = await collect(t, topics.sketchStdout(t.agent.base, 'sketchLoadedThroughUSB'));
    const drop = t.settings.drop_folder;
    await waitFor(async () => (await stat(drop)).isDirectory(), 'the drop folder');
    await writeFile(join(drop, '.incoming'), script('echo from-usb; while :; do sleep 1; done'));
    await rename(join(drop, '.incoming'), join(drop, 'blink'));
    await waitFor(() => out.text().includes('from-usb'), 'the dropped sketch to run', 15_000);
    const first = (await status(t)).sketchLoadedThroughUSB;
    assert.equal(first?.status, 'RUNNING');
    assert.deepEqual(await readdir(drop), [], 'moved out of the drop folder');

    // The next file replaces it and is started in its place.
    await writeFile(join(drop, '.incoming'), script('echo from-usb-2; while :; do sleep 1; done'));
    await rename(join(drop, '.incoming'), join(drop, 'blink-v2'));
    await waitFor(() => out.text().includes('from-usb-2'), 'the replacement to run', 15_000);
    const second = (await status(t)).sketchLoadedThroughUSB;
    assert.equal(second?.status, 'RUNNING');
    assert.notEqual(second?.pid, first?.pid);
    assert.equal(await processStateLetter(first!.pid), undefined, 'the previous one was stopped');
    assert.match(await readFile(join(sketchesDir(t), 'sketchLoadedThroughUSB'), 'utf8'), /from-usb-2/);
  });
});

describe('without a usable signature_key', () => {
  it('refuses every upload and downloads nothing', async () => {
    const t = await startTestAgent(broker.url, { signature_key: '' });
    try {
      const requestsBefore = server.requests.length;
      const url = await publish('unverifiable.sh', script('echo never'));
      const reply = await upload(t, 'u', 'unverifiable.sh', url);
      assert.equal(reply.ok, false);
      assert.match(!reply.ok ? reply.message : '', /signature_key/);
      assert.equal(server.requests.length, requestsBefore);
      assert.deepEqual(await listSketchFiles(t), []);
    } finally {
      await t.stop();
    }
  });
});

describe('agent restart', () => {
  it('restores the table, restarts RUNNING sketches and lists untracked files', async () => {
    const data = await tempDir('ac-restart-');
    const settings = agentSettings({ sketches_path: data.path, drop_folder: join(data.path, 'drop') });
    try {
      const first = await startTestAgent(broker.url, settings, quickStops);
      const pids: Record<string, number> = {};
      try {
        for (const id of ['runner', 'stopper', 'pauser']) {
          const url = await publish(`${id}.sh`, script(`echo ${id}; while :; do sleep 1; done`));
          pids[id] = pidOf(await upload(first, id, `${id}.sh`, url));
        }
        assert.ok((await action(first, 'stopper', 'STOP')).ok);
        assert.ok((await action(first, 'pauser', 'PAUSE')).ok);
        await writeFile(join(data.path, 'sketches', 'leftover'), script('echo leftover'), { mode: 0o700 });
      } finally {
        await first.stop();
      }
      for (const pid of Object.values(pids)) assert.equal(await processStateLetter(pid), undefined, 'no process outlives the agent');

      const second = await startTestAgent(broker.url, settings, quickStops);
      try {
        const out = await collect(second, topics.sketchStdout(second.agent.base, 'runner'));
        const s = await status(second);
        assert.equal(s.runner?.status, 'RUNNING');
        assert.ok(s.runner!.pid > 0 && s.runner!.pid !== pids.runner);
        assert.equal(s.stopper?.status, 'STOPPED');
        assert.equal(s.pauser?.status, 'STOPPED');
        assert.deepEqual(s.leftover, { name: 'leftover', id: 'leftover', pid: 0, status: 'STOPPED', endpoints: null });
        assert.ok((await action(second, 'stopper', 'START')).ok);
        assert.equal((await status(second)).stopper?.status, 'RUNNING');
        // The restarted sketch answers on its topics like a fresh one.
        await second.client.publish(topics.sketchStdin(second.agent.base, 'runner'), 'x\r');
        await waitFor(() => out.text().includes('x'), 'the terminal echo of the restarted sketch');
      } finally {
        await second.stop();
      }
    } finally {
      await data.remove();
    }
  });
});

describe('large output', () => {
  it('50 MB printed by a sketch arrive complete and in order', async () => {
    // 500,000 lines of 99 digits and "\n": 50 MB.
    const lines = 500_000;
    const binary = await compile('bigout', `#include <stdio.h>\nint main(void){for(long i=0;i<${lines};i++)printf("%099ld\\n",i);fflush(stdout);return 0;}\n`);
    const url = await publishFile('bigout', binary);
    const t = await startTestAgent(broker.url, agentSettings(), quickStops);
    try {
      // Checked as it arrives: 50 MB are never held by the test either.
      let expected = 0;
      let carry = '';
      let bytes = 0;
      let broken = '';
      await t.client.follow(topics.sketchStdout(t.agent.base, 'big'), (_topic, payload) => {
        bytes += payload.length;
        const parts = (carry + payload.toString('latin1')).split('\r\n');
        carry = parts.pop()!;
        for (const line of parts) {
          if (!broken && line !== String(expected).padStart(99, '0')) broken = `line ${expected} is ${JSON.stringify(line.slice(-20))}`;
          expected += 1;
        }
      });
      let stdoutBytes = 0;
      await t.client.follow(topics.stdout(t.agent.base), (_topic, payload) => void (stdoutBytes += payload.length));
      pidOf(await upload(t, 'big', 'bigout', url));
      await waitFor(() => expected >= lines || broken, 'all lines', 120_000, 100);
      assert.equal(broken, '');
      assert.equal(expected, lines);
      assert.equal(carry, '');
      assert.equal(bytes, lines * 101, 'each line: 99 digits and the terminal\'s \\r\\n');
      await waitFor(() => stdoutBytes === lines * 101, 'the same bytes on B/stdout', 30_000);
      const s = (await status(t)).big;
      await waitFor(async () => (await status(t)).big?.status === 'STOPPED', 'the program to end');
      assert.ok(s);
    } finally {
      await t.stop();
    }
  });
});
