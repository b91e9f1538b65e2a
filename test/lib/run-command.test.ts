// runCommand with real processes: time-outs stop the whole process group, and the output kept
// for an answer is capped while every line is still handed over as it comes.

import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { LineSplitter, RunTimeoutError, runCommand, tailOfOutput } from '../../src/lib/run-command.js';

/** Processes whose command line contains `token` (the test's own sleeps, found through /proc). */
async function processesWith(token: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(token)) found.push(Number(entry));
  }
  return found;
}

/** A sleep length nobody else uses, so the test can find its own sleeps. */
const uniqueSleep = () => `${1000 + Math.floor(Math.random() * 1000)}.${randomBytes(3).readUIntBE(0, 3)}`;

describe('runCommand time-outs', () => {
  it('stops a program that runs too long, with its children, and says so', async () => {
    const sleep = uniqueSleep();
    const lines: string[] = [];
    const error = await runCommand('sh', ['-c', `echo started; sleep ${sleep} & sleep ${sleep}; wait`], {
      timeoutMs: 300,
      killGraceMs: 2000,
      onLine: (line) => lines.push(line),
    }).then(
      () => assert.fail('resolved'),
      (err: unknown) => err,
    );
    assert.ok(error instanceof RunTimeoutError, String(error));
    assert.match(error.message, /^sh did not finish within 300 ms and was stopped$/);
    assert.equal(error.output, 'started\n');
    assert.deepEqual(lines, ['started']);
    // The background sleep was in the group too: SIGTERM ended both.
    assert.deepEqual(await processesWith(`sleep\0${sleep}`), []);
  });

  it('kills a group that ignores SIGTERM once the grace time is over', async () => {
    const sleep = uniqueSleep();
    const error = await runCommand('sh', ['-c', `trap "" TERM; sleep ${sleep}; sleep ${sleep}`], { timeoutMs: 300, killGraceMs: 300 }).then(
      () => assert.fail('resolved'),
      (err: unknown) => err,
    );
    assert.ok(error instanceof RunTimeoutError);
    assert.deepEqual(await processesWith(`sleep\0${sleep}`), []);
  });

  it('leaves a program that ends in time alone', async () => {
    const result = await runCommand('sh', ['-c', 'echo one; echo two >&2; exit 3'], { timeoutMs: 60_000 });
    assert.equal(result.code, 3);
    assert.equal(result.output.split('\n').sort().join(','), ',one,two');
  });

  it('names the program by its label when it gives one', async () => {
    await assert.rejects(runCommand('sleep', [uniqueSleep()], { timeoutMs: 200, killGraceMs: 200, label: 'sleep forever' }), {
      name: 'RunTimeoutError',
      message: 'sleep forever did not finish within 200 ms and was stopped',
    });
  });

  it('rejects at once when the program does not exist', async () => {
    await assert.rejects(runCommand('/nonexistent-program-xyz', [], { timeoutMs: 60_000 }), /ENOENT/);
  });
});

describe('runCommand output cap', () => {
  it('keeps the last bytes and says how many were left out; every line still streams', async () => {
    let streamed = 0;
    const result = await runCommand('seq', ['1', '100000'], { maxOutputBytes: 64 * 1024, onLine: () => streamed++ });
    assert.equal(streamed, 100000);
    const [first, ...rest] = result.output.split('\n');
    const kept = rest.join('\n');
    const total = Buffer.byteLength((await runCommand('seq', ['1', '100000'])).output);
    assert.equal(first, `[${total - Buffer.byteLength(kept)} bytes of earlier output left out]`);
    assert.ok(Buffer.byteLength(kept) <= 64 * 1024);
    assert.ok(kept.endsWith('99999\n100000\n'));
    assert.match(kept, /^\d+\n/);
  });

  it('cuts one huge line too (output without newlines is never held whole)', async () => {
    const pieces: string[] = [];
    const splitter = new LineSplitter((line) => pieces.push(line), 10);
    splitter.push('a'.repeat(25));
    splitter.push('b\n');
    splitter.end();
    assert.deepEqual(pieces, ['a'.repeat(10), 'a'.repeat(10), 'aaaaab']);
    const result = await runCommand('head', ['-c', '200000', '/dev/zero'], { maxOutputBytes: 1000 });
    assert.ok(Buffer.byteLength(result.output) < 1100, `${Buffer.byteLength(result.output)} bytes`);
    assert.match(result.output, /^\[199\d{3} bytes of earlier output left out\]\n/);
  });

  it('hands stdout over as raw chunks when asked, keeping only stderr as output', async () => {
    const chunks: Buffer[] = [];
    const lines: string[] = [];
    // Bytes that are not UTF-8 arrive unchanged, and stdout is not split into lines.
    const script = 'printf "a\\377b\\r\\nc"; head -c 300000 /dev/zero; echo oops >&2';
    const result = await runCommand('sh', ['-c', script], { onStdoutChunk: (c) => chunks.push(c), onLine: (line) => lines.push(line) });
    assert.equal(result.code, 0);
    const stdout = Buffer.concat(chunks);
    assert.equal(stdout.length, 6 + 300000);
    assert.deepEqual([...stdout.subarray(0, 6)], [0x61, 0xff, 0x62, 0x0d, 0x0a, 0x63]);
    assert.equal(result.output, 'oops\n');
    assert.deepEqual(lines, ['oops']);
  });

  it('tailOfOutput starts at a line and on a whole character', () => {
    assert.equal(tailOfOutput('short\n', 100), 'short\n');
    assert.equal(tailOfOutput('one\ntwo\nthree\n', 9), '[8 bytes of earlier output left out]\nthree\n');
    const cut = tailOfOutput('é'.repeat(10), 5);
    assert.equal(cut, `[16 bytes of earlier output left out]\n${'é'.repeat(2)}`);
    // Cutting a cut text again adds up what was left out.
    assert.equal(tailOfOutput('[8 bytes of earlier output left out]\nthree\nfour\n', 5), '[14 bytes of earlier output left out]\nfour\n');
  });
});
