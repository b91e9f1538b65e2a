// One supervised sketch: a real program in a real pseudo-terminal, real signals, /proc checked.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { processStateLetter, SketchProcess, type SketchProcessOptions } from '../../src/sketches/process.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

let dir: { path: string; remove(): Promise<void> };
before(async () => (dir = await tempDir('ac-process-')));
after(async () => dir.remove());

function run(script: string, options: Partial<SketchProcessOptions> = {}) {
  const sketch = SketchProcess.start({ file: '/bin/sh', args: ['-c', script], cwd: dir.path, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, ...options });
  const chunks: Buffer[] = [];
  sketch.onOutput((chunk) => chunks.push(chunk));
  return { sketch, text: () => Buffer.concat(chunks).toString('latin1'), bytes: () => chunks.reduce((n, c) => n + c.length, 0) };
}

/** Fields of /proc/<pid>/stat after the command name: state, ppid, pgrp, session... */
async function statFields(pid: number): Promise<string[]> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

const gone = async (pid: number) => (await processStateLetter(pid)) === undefined;
/** A grandchild outlives its group's leader as an orphan that init reaps in its own time. */
const ended = async (pid: number) => ['Z', undefined].includes(await processStateLetter(pid));

describe('SketchProcess', () => {
  it('runs in a terminal of its own, as leader of its own session and process group', async () => {
    const { sketch, text } = run('test -t 0 && test -t 1 && echo tty-ok; sleep 30');
    await waitFor(() => text().includes('tty-ok'), 'the terminal check');
    const [, , pgrp, session] = await statFields(sketch.pid);
    assert.equal(Number(pgrp), sketch.pid);
    assert.equal(Number(session), sketch.pid);
    await sketch.stop();
  });

  it('reports output in order and the exit code of a program that ends by itself, leaving no zombie', async () => {
    const { sketch, text } = run('echo one; echo two; exit 7');
    assert.deepEqual(await sketch.exited, { exit_code: 7, signal: null });
    // A terminal turns "\n" into "\r\n".
    assert.equal(text(), 'one\r\ntwo\r\n');
    assert.equal(sketch.state, 'exited');
    assert.ok(await gone(sketch.pid), 'the exited program was reaped');
  });

  it('writes input to the terminal', async () => {
    const { sketch, text } = run('read line; echo "got:$line"');
    sketch.write('hello sketch\r');
    await sketch.exited;
    assert.match(text(), /got:hello sketch\r\n/);
    assert.equal(sketch.write('late'), false);
  });

  it('STOP sends SIGTERM to the whole group', async () => {
    const { sketch, text } = run('sleep 30 & echo "child=$!"; wait');
    const child = Number((await waitFor(() => /child=(\d+)/.exec(text()), 'the child pid'))[1]);
    assert.equal(Number((await statFields(child))[2]), sketch.pid, 'the child is in the group');
    assert.deepEqual(await sketch.stop(), { exit_code: null, signal: 'SIGTERM' });
    await waitFor(() => ended(child), 'the child to end');
    assert.ok(await gone(sketch.pid));
  });

  it('STOP keeps everything a sketch prints while it shuts down', async () => {
    const { sketch, text } = run('trap "seq 1 50000; exit 0" TERM; echo ready; while :; do sleep 0.05; done');
    await waitFor(() => text().includes('ready'), 'the trap to be set');
    assert.deepEqual(await sketch.stop(), { exit_code: 0, signal: null });
    const lines = text().split('\r\n');
    assert.equal(lines.at(-2), '50000');
    assert.equal(lines.filter((l) => /^\d+$/.test(l)).length, 50000);
  });

  it('SIGKILL follows when a sketch ignores SIGTERM, and nothing of the group remains', async () => {
    const { sketch, text } = run('trap "" TERM HUP; sleep 30 & echo "child=$!"; while :; do sleep 0.05; done', { stopGraceMs: 200 });
    const child = Number((await waitFor(() => /child=(\d+)/.exec(text()), 'the child pid'))[1]);
    assert.deepEqual(await sketch.stop(), { exit_code: null, signal: 'SIGKILL' });
    assert.ok(await gone(sketch.pid), 'no zombie of the sketch');
    await waitFor(() => ended(child), 'the child that ignored SIGTERM to end');
  });

  it('PAUSE really suspends (SIGTSTP alone is discarded for an orphaned group) and START resumes', async () => {
    const { sketch, bytes } = run('i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.01; done');
    await waitFor(() => bytes() > 0, 'first output');
    await sketch.pause();
    assert.equal(sketch.state, 'paused');
    assert.equal(await processStateLetter(sketch.pid), 'T');
    // Output already in the terminal may still arrive; after that, nothing more.
    await new Promise((r) => setTimeout(r, 100));
    const frozen = bytes();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(bytes(), frozen, 'no output while paused');
    sketch.resume();
    assert.equal(sketch.state, 'running');
    await waitFor(() => bytes() > frozen, 'output after resuming');
    assert.notEqual(await processStateLetter(sketch.pid), 'T');
    await sketch.stop();
  });

  for (const [what, trap] of [
    ['ignores SIGTSTP', 'trap "" TSTP'],
    ['handles SIGTSTP without stopping', 'trap "echo caught" TSTP'],
  ]) {
    it(`PAUSE works on a sketch that ${what}`, async () => {
      const { sketch, text } = run(`${trap}; echo ready; while :; do sleep 0.05; done`, { pauseGraceMs: 100 });
      await waitFor(() => text().includes('ready'), 'the sketch to start');
      await sketch.pause();
      assert.equal(await processStateLetter(sketch.pid), 'T');
      assert.deepEqual(await sketch.stop(), { exit_code: null, signal: 'SIGTERM' }, 'a paused sketch still stops on SIGTERM');
    });
  }

  it('a held terminal blocks the writer, and nothing is lost when it ends while held', async () => {
    const { sketch, bytes } = run('head -c 3000 /dev/zero | tr "\\0" a');
    sketch.holdOutput();
    // Far longer than node-pty's 200 ms patience with an unread terminal after the end.
    await new Promise((r) => setTimeout(r, 600));
    const exit = await sketch.exited;
    assert.deepEqual(exit, { exit_code: 0, signal: null });
    assert.equal(bytes(), 3000);
    sketch.releaseOutput();
  });

  it('a program that writes a lot and ends at once loses no byte (node-pty alone often drops the tail)', async () => {
    for (let round = 0; round < 6; round++) {
      const { sketch, bytes } = run('seq 1 100000');
      await sketch.exited;
      // 488,895 digits and 100,000 "\r\n".
      assert.equal(bytes(), 688_895, `round ${round}`);
    }
  });

  it('holding and releasing a busy writer loses no byte', async () => {
    const { sketch, text, bytes } = run('seq 1 200000');
    let held = false;
    const toggler = setInterval(() => {
      held = !held;
      if (held) sketch.holdOutput();
      else sketch.releaseOutput();
    }, 7);
    await sketch.exited;
    clearInterval(toggler);
    sketch.releaseOutput();
    const lines = text().split('\r\n');
    assert.equal(lines.pop(), '');
    assert.equal(lines.length, 200000);
    lines.forEach((line, i) => assert.equal(line, String(i + 1)));
    assert.ok(bytes() > 0);
  });
});
