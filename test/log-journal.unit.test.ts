// Log lines for journald: the syslog priority first, no timestamp of their own (the journal adds
// one), and every message still escaped onto one line.

import assert from 'node:assert/strict';
import { closeSync, fstatSync, openSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import { createLogger, stderrIsJournal } from '../src/log.js';
import { tempDir } from './helpers/tmp.js';

it('starts each line with the priority of its level and keeps it one line', () => {
  const lines: string[] = [];
  const log = createLogger({ level: 'debug', journal: true, write: (line) => void lines.push(line) }).child('mqtt');
  log.debug('d');
  log.info('i');
  log.warn('w');
  log.error('forged?\n<3>ERROR [mqtt] forged\u001b[31m');
  assert.deepEqual(lines, [
    '<7>DEBUG [mqtt] d\n',
    '<6>INFO  [mqtt] i\n',
    '<4>WARN  [mqtt] w\n',
    '<3>ERROR [mqtt] forged?\\n<3>ERROR [mqtt] forged\\u001b[31m\n',
  ]);
});

it('knows stderr is the journal only when JOURNAL_STREAM names its device and inode', async () => {
  const dir = await tempDir();
  const [a, b] = [join(dir.path, 'a'), join(dir.path, 'b')];
  await writeFile(a, '');
  await writeFile(b, '');
  const fdA = openSync(a, 'r');
  const fdB = openSync(b, 'r');
  try {
    const { dev, ino } = fstatSync(fdA, { bigint: true });
    const stream = { JOURNAL_STREAM: `${dev}:${ino}` };
    assert.equal(stderrIsJournal(stream, fdA), true);
    assert.equal(stderrIsJournal(stream, fdB), false);
    assert.equal(stderrIsJournal({}, fdA), false);
    assert.equal(stderrIsJournal({ JOURNAL_STREAM: `${dev}` }, fdA), false);
  } finally {
    closeSync(fdA);
    closeSync(fdB);
    await dir.remove();
  }
});
