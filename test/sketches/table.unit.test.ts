import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InvalidError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { SketchTable, type SketchRecord } from '../../src/sketches/table.js';
import { tempDir } from '../helpers/tmp.js';

describe('SketchTable', () => {
  let dir: { path: string; remove(): Promise<void> };
  let n = 0;
  /** A table file path of its own for each test. */
  const freshFile = async () => {
    const folder = join(dir.path, `t${++n}`);
    await mkdir(folder);
    return join(folder, 'sketches.json');
  };

  before(async () => {
    dir = await tempDir('ac-table-');
  });
  after(() => dir.remove());

  const blink: SketchRecord = { id: 'b1', name: 'blink', desired: 'RUNNING' };
  const fade: SketchRecord = { id: 'f1', name: 'fade', desired: 'STOPPED' };

  it('starts empty when the file is missing, without creating it', async () => {
    const file = await freshFile();
    const table = await SketchTable.open(file);
    assert.deepEqual(table.list(), []);
    assert.equal(table.get('b1'), undefined);
    await assert.rejects(stat(file), { code: 'ENOENT' });
  });

  it('persists puts and removes across reopening, in a 0600 file', async () => {
    const file = await freshFile();
    const table = await SketchTable.open(file);
    await table.put(blink);
    await table.put(fade);
    await table.put({ ...blink, desired: 'PAUSED' });
    await table.remove('f1');
    await table.remove('never-there');
    assert.deepEqual(table.list(), [{ ...blink, desired: 'PAUSED' }]);
    assert.equal((await stat(file)).mode & 0o777, 0o600);

    const reopened = await SketchTable.open(file);
    assert.deepEqual(reopened.list(), [{ ...blink, desired: 'PAUSED' }]);
    assert.deepEqual(reopened.get('b1'), { ...blink, desired: 'PAUSED' });
    // Only the table itself is left in the folder: no temp files.
    assert.deepEqual(await readdir(join(file, '..')), ['sketches.json']);
  });

  it('hands out copies, so callers cannot change it behind its back', async () => {
    const table = await SketchTable.open(await freshFile());
    await table.put(blink);
    const copy = table.get('b1');
    assert.ok(copy);
    copy.desired = 'STOPPED';
    table.list()[0]!.name = 'changed';
    assert.deepEqual(table.get('b1'), blink);
  });

  it('keeps every one of many concurrent changes', async () => {
    const file = await freshFile();
    const table = await SketchTable.open(file);
    const ids = Array.from({ length: 30 }, (_, i) => `s${i}`);
    await Promise.all(ids.map((id) => table.put({ id, name: `sketch-${id}`, desired: 'RUNNING' })));
    await Promise.all(ids.filter((_, i) => i % 3 === 0).map((id) => table.remove(id)));
    const expected = ids.filter((_, i) => i % 3 !== 0).sort();
    assert.deepEqual(table.list().map((r) => r.id).sort(), expected);
    assert.deepEqual((await SketchTable.open(file)).list().map((r) => r.id).sort(), expected);
  });

  it('refuses records whose id or name could leave the folder, changing nothing', async () => {
    const file = await freshFile();
    const table = await SketchTable.open(file);
    await table.put(blink);
    const before = await readFile(file, 'utf8');
    await assert.rejects(table.put({ id: '../x', name: 'ok', desired: 'RUNNING' }), InvalidError);
    await assert.rejects(table.put({ id: 'ok', name: 'a/b', desired: 'RUNNING' }), InvalidError);
    await assert.rejects(table.put({ id: 'ok', name: 'ok', desired: 'DANCING' as 'RUNNING' }), /desired state/);
    assert.deepEqual(table.list(), [blink]);
    assert.equal(await readFile(file, 'utf8'), before);
  });

  it('keeps its previous state when a write fails', async () => {
    const file = await freshFile();
    const table = await SketchTable.open(file);
    await table.put(blink);
    await rm(join(file, '..'), { recursive: true });
    await assert.rejects(table.put(fade), { code: 'ENOENT' });
    assert.deepEqual(table.list(), [blink]);
    // The queue is not stuck after a failure.
    await mkdir(join(file, '..'));
    await table.put(fade);
    assert.deepEqual(table.list().map((r) => r.id).sort(), ['b1', 'f1']);
  });

  const corruptions: Array<[string, string]> = [
    ['half-written JSON', '{"version":1,"sketches":[{"id":"b1","na'],
    ['JSON of another shape', '[1,2,3]'],
    ['an unknown version', '{"version":99,"sketches":[]}'],
    ['an entry with a path as name', '{"version":1,"sketches":[{"id":"b1","name":"../../etc/passwd","desired":"RUNNING"}]}'],
    ['an entry with an unknown state', '{"version":1,"sketches":[{"id":"b1","name":"blink","desired":"FLYING"}]}'],
    ['a repeated id', '{"version":1,"sketches":[{"id":"b1","name":"a","desired":"RUNNING"},{"id":"b1","name":"b","desired":"RUNNING"}]}'],
  ];
  for (const [what, content] of corruptions) {
    it(`keeps a file with ${what} aside as *.corrupt, logs it and starts empty`, async () => {
      const file = await freshFile();
      await writeFile(file, content);
      const lines: string[] = [];
      const table = await SketchTable.open(file, { log: createLogger({ write: (l) => void lines.push(l) }) });
      assert.deepEqual(table.list(), []);
      assert.equal(await readFile(`${file}.corrupt`, 'utf8'), content);
      await assert.rejects(stat(file), { code: 'ENOENT' });
      assert.equal(lines.length, 1);
      assert.match(lines[0]!, /ERROR .*unreadable.*\.corrupt/);
      await table.put(blink);
      assert.deepEqual((await SketchTable.open(file)).list(), [blink]);
    });
  }

  it('removes temp files left by an interrupted write, and nothing else', async () => {
    const file = await freshFile();
    const folder = join(file, '..');
    await writeFile(join(folder, '.sketches.json.12345.0a1b2c3d.tmp'), '{"version":1,"sket');
    await writeFile(join(folder, 'blink'), 'a sketch');
    await SketchTable.open(file);
    assert.deepEqual(await readdir(folder), ['blink']);
  });

  it('survives being killed with SIGKILL while writing in a loop', async () => {
    const moduleUrl = new URL('../../src/sketches/table.ts', import.meta.url).href;
    // Each round kills the writer after a different number of acknowledged writes.
    for (const killAfter of [3, 40, 150]) {
      const file = await freshFile();
      const lastAcknowledged = await writeUntilKilled(moduleUrl, file, killAfter);
      assert.ok(lastAcknowledged >= killAfter);

      const lines: string[] = [];
      const table = await SketchTable.open(file, { log: createLogger({ write: (l) => void lines.push(l) }) });
      assert.deepEqual(lines, [], 'the table was readable');
      await assert.rejects(stat(`${file}.corrupt`), { code: 'ENOENT' });
      // The table is the state after some write at or after the last one the writer reported done.
      const states = replayWriter(lastAcknowledged + 500);
      const found = states.findIndex((state, step) => step >= lastAcknowledged && sameRecords(state, table.list()));
      assert.notEqual(found, -1, `table ${JSON.stringify(table.list())} is not a state reached after step ${lastAcknowledged}`);
    }
  });
});

/** The writer's sequence of operations, shared by the child (as source text) and the replay below. */
const writerStep = (i: number) =>
  i % 5 === 4 ? { remove: `s${(i * 7) % 20}` } : { put: { id: `s${i % 20}`, name: `sketch-${i}`, desired: i % 2 ? 'RUNNING' : 'STOPPED' } };

function replayWriter(steps: number): SketchRecord[][] {
  const states: SketchRecord[][] = [[]];
  const map = new Map<string, SketchRecord>();
  for (let i = 1; i <= steps; i++) {
    const op = writerStep(i);
    if ('remove' in op) map.delete(op.remove!);
    else map.set(op.put.id, op.put as SketchRecord);
    states.push([...map.values()].map((r) => ({ ...r })));
  }
  return states;
}

function sameRecords(a: SketchRecord[], b: SketchRecord[]): boolean {
  const key = (list: SketchRecord[]) => JSON.stringify([...list].sort((x, y) => x.id.localeCompare(y.id)));
  return key(a) === key(b);
}

/** Runs a child node process that changes the table in a loop, printing the number of each write
 * once it resolved, and SIGKILLs it once `killAfter` writes were reported. Returns the last reported. */
async function writeUntilKilled(moduleUrl: string, file: string, killAfter: number): Promise<number> {
  const source = `
    import { SketchTable } from ${JSON.stringify(moduleUrl)};
    const step = ${writerStep.toString()};
    const table = await SketchTable.open(process.env.TABLE_FILE);
    for (let i = 1; ; i++) {
      const op = step(i);
      if ('remove' in op) await table.remove(op.remove); else await table.put(op.put);
      process.stdout.write(i + '\\n');
    }`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', source], {
    env: { ...process.env, TABLE_FILE: file },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let last = 0;
  let errors = '';
  child.stderr.on('data', (d: Buffer) => (errors += d.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  child.stdout.on('data', (d: Buffer) => {
    const numbers = d.toString().trim().split('\n').map(Number);
    last = Math.max(last, ...numbers);
    if (last >= killAfter) child.kill('SIGKILL');
  });
  const signal = await exited;
  assert.equal(signal, 'SIGKILL', `the writer ended by itself: ${errors}`);
  return last;
}
