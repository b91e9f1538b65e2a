// The file follower on real files: a file that appears late, appends in pieces, truncation
// (also a rewrite past the old length), rotation by rename and by delete, long lines, CRLF, tiny
// read chunks. Every wait is for what the follower delivers or how far it has read, never a
// fixed time. Where a race matters, the consumer holds a line while the test changes the file,
// so the follower meets the change at a known point.

import assert from 'node:assert/strict';
import { appendFile, mkdir, open, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { FileFollower, type FileFollowerOptions, type FollowerEvent } from '../../src/lib/file-follower.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

interface Followed {
  follower: FileFollower;
  lines: string[];
  cuts: number[];
  events: FollowerEvent[];
  /** Holds the consumer at the next line until the returned function is called. */
  holdNext(): () => void;
}

function follow(path: string, options: Partial<FileFollowerOptions> = {}): Followed {
  const lines: string[] = [];
  const cuts: number[] = [];
  const events: FollowerEvent[] = [];
  let hold: Promise<void> | undefined;
  const follower = new FileFollower({
    path,
    // A fast poll keeps the tests short where the watch cannot see a change (a folder made late, an
    // append to a renamed file).
    pollIntervalMs: 50,
    watchedPollIntervalMs: 50,
    ...options,
    onLine: async (line, cutBytes) => {
      lines.push(line.toString());
      cuts.push(cutBytes);
      const waiting = hold;
      hold = undefined;
      await waiting;
    },
    onEvent: (event) => events.push(event),
  });
  follower.start();
  return {
    follower,
    lines,
    cuts,
    events,
    holdNext: () => {
      let release!: () => void;
      hold = new Promise<void>((r) => (release = r));
      return release;
    },
  };
}

const linesArrived = (f: Followed, n: number, what: string) => waitFor(() => f.lines.length >= n, `${n} lines: ${what}`);

describe('FileFollower', () => {
  let dir: { path: string; remove(): Promise<void> };
  let followed: Followed | undefined;

  beforeEach(async () => {
    dir = await tempDir('ac-follow-');
  });
  afterEach(async () => {
    await followed?.follower.stop();
    followed = undefined;
    await dir.remove();
  });

  it('waits for a file (and its folder) to appear, then reads it from its start', async () => {
    const path = join(dir.path, 'later', 'progress.log');
    followed = follow(path);
    await waitFor(() => followed?.events.some((e) => e.kind === 'waiting' && e.reason === 'its folder does not exist'), 'the waiting event');
    await mkdir(join(dir.path, 'later'));
    await writeFile(path, 'one\ntwo\n');
    await linesArrived(followed, 2, 'the lines already in the file');
    await appendFile(path, 'three\n');
    await linesArrived(followed, 3, 'an appended line');
    assert.deepEqual(followed.lines, ['one', 'two', 'three']);
    // Waiting for the folder, maybe then for the file in it, and then only following.
    assert.deepEqual(
      followed.events.filter((e) => e.kind !== 'waiting').map((e) => e.kind),
      ['following'],
    );
  });

  it('delivers a line written in two pieces once, whole, after its line break', async () => {
    const path = join(dir.path, 'progress.log');
    await writeFile(path, 'first\nsec');
    followed = follow(path);
    await linesArrived(followed, 1, 'the first line');
    await waitFor(() => followed?.follower.offset === 'first\nsec'.length, 'the partial line read');
    assert.deepEqual(followed.lines, ['first'], 'a partial line is not delivered');
    await appendFile(path, 'ond\r\nthird\n');
    await linesArrived(followed, 3, 'the finished line');
    assert.deepEqual(followed.lines, ['first', 'second', 'third'], 'CRLF and LF both end a line');
  });

  it('reads chunk boundaries and long lines right: every line once, long ones cut to the cap', async () => {
    const path = join(dir.path, 'progress.log');
    const expected: string[] = [];
    let text = '';
    for (let i = 0; i < 200; i++) {
      const line = `line ${i} ${'x'.repeat(i % 23)}`;
      expected.push(line);
      text += `${line}\n`;
    }
    text += `${'L'.repeat(100)}\nafter\n`;
    await writeFile(path, text);
    // A 7-byte chunk puts line breaks and the truncation check's overlap at every position.
    followed = follow(path, { chunkBytes: 7, maxLineBytes: 40 });
    await linesArrived(followed, 202, 'every line');
    assert.deepEqual(followed.lines.slice(0, 200), expected);
    assert.equal(followed.lines[200], 'L'.repeat(40));
    assert.equal(followed.cuts[200], 60);
    assert.equal(followed.lines[201], 'after');
    assert.ok(followed.cuts.every((c, i) => i === 200 || c === 0));
  });

  it('after a truncation, reads the lines written after it, and nothing twice', async () => {
    const path = join(dir.path, 'progress.log');
    await writeFile(path, 'a1\na2\n');
    followed = follow(path);
    await linesArrived(followed, 2, 'the first lines');
    await truncate(path, 0);
    await appendFile(path, 'b1\n');
    await linesArrived(followed, 3, 'the line after the truncation');
    await appendFile(path, 'b2\n');
    await linesArrived(followed, 4, 'a later line');
    assert.deepEqual(followed.lines, ['a1', 'a2', 'b1', 'b2']);
    assert.ok(followed.events.some((e) => e.kind === 'truncated'));
  });

  it('notices a truncation the file outgrew before the follower looked', async () => {
    const path = join(dir.path, 'progress.log');
    await writeFile(path, 'old 1\nold 2\nold 3\n');
    followed = follow(path);
    const release = followed.holdNext();
    await linesArrived(followed, 1, 'the first line, held');
    // Rewritten while the consumer holds "old 1": longer than before, so its size says nothing.
    await writeFile(path, 'new 1 is longer than anything before\nnew 2\n');
    release();
    await waitFor(() => followed?.lines.includes('new 2'), 'the rewritten file');
    // "old 2" and "old 3" were in the chunk read before the rewrite; they had been written.
    assert.deepEqual(followed.lines, ['old 1', 'old 2', 'old 3', 'new 1 is longer than anything before', 'new 2']);
    assert.ok(followed.events.some((e) => e.kind === 'truncated'));
  });

  it('on rotation reads the old file to its end (its last line too), then the new one from its start', async () => {
    const path = join(dir.path, 'progress.log');
    await writeFile(path, 'old 1\n');
    followed = follow(path);
    const release = followed.holdNext();
    await linesArrived(followed, 1, 'the first line, held');
    // A writer still appending to the renamed file, and the new file made at the path.
    await rename(path, join(dir.path, 'progress.log.1'));
    await appendFile(join(dir.path, 'progress.log.1'), 'old 2\nold unfinished');
    await writeFile(path, 'new 1\n');
    release();
    await linesArrived(followed, 4, 'the rest of the old file and the new one');
    await appendFile(path, 'new 2\n');
    await linesArrived(followed, 5, 'an append to the new file');
    assert.deepEqual(followed.lines, ['old 1', 'old 2', 'old unfinished', 'new 1', 'new 2']);
    assert.ok(followed.events.some((e) => e.kind === 'rotated'));
  });

  it('keeps reading a renamed file until a new one is made, and follows a file deleted and made again', async () => {
    const path = join(dir.path, 'progress.log');
    await writeFile(path, 'a\n');
    followed = follow(path);
    await linesArrived(followed, 1, 'the first line');
    await rename(path, join(dir.path, 'moved.log'));
    await appendFile(join(dir.path, 'moved.log'), 'b\n');
    await linesArrived(followed, 2, 'a line appended to the renamed file');
    await rm(join(dir.path, 'moved.log'));
    await writeFile(path, 'c\n');
    await linesArrived(followed, 3, 'the line of the file made again');
    assert.deepEqual(followed.lines, ['a', 'b', 'c']);
  });

  it('waits while the path is not a regular file', async () => {
    const path = join(dir.path, 'progress.log');
    await mkdir(path);
    followed = follow(path);
    await waitFor(() => followed?.events.find((e) => e.kind === 'waiting' && e.reason === 'it is not a regular file'), 'the waiting event');
    await rm(path, { recursive: true });
    const handle = await open(path, 'w');
    await handle.write('x\n');
    await handle.close();
    await linesArrived(followed, 1, 'the file made in its place');
    assert.deepEqual(followed.lines, ['x']);
  });
});
