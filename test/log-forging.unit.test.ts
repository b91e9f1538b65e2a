// Text a sender controls (a value, a malformed payload, bytes that are not UTF-8) sent to every
// command: every log line stays one line that starts with its own timestamp, and neither the log
// nor an answer carries a terminal escape, a forged line or a replacement character.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { commandNames, type CommandName } from '../src/api.js';
import { startMemoryAgent } from './helpers/memory-agent.js';

const forgedLine = '\n2026-01-01T00:00:00.000Z ERROR [mqtt] forged';
const ansi = '\u001b[2J\u001b[31mred\u001b[0m\u0007\u009b';
const hostile = [`${forgedLine}${ansi}`, ansi, `\r${forgedLine}\u2028\ud800`];

/** Commands whose request has no field: extra fields are ignored and the command runs. */
const fieldless = new Set<CommandName>(['status', 'stats', 'apt/update', 'apt/repos/list']);

function forgedRequest(value: string): Record<string, unknown> {
  const repo = { enabled: true, sourceRepo: false, uri: value, distribution: value, comment: value, options: value };
  return {
    id: value,
    name: value,
    action: value,
    package: value,
    packages: [value],
    search: value,
    url: `http://example.invalid/${value}`,
    image: value,
    user: value,
    repository: repo,
    old_repository: repo,
    new_repository: repo,
  };
}

it('never lets a sender forge a log line or reach a terminal through an answer', async () => {
  const t = await startMemoryAgent();
  const answers: string[] = [];
  try {
    for (const command of commandNames) {
      const payloads: (string | Buffer)[] = [
        ...hostile.map((value) => `{${value}`),
        ...hostile.map((value) => JSON.stringify(value)),
        Buffer.from([0x7b, 0x22, 0x69, 0x64, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0xc3, 0x22, 0x7d]),
      ];
      if (!fieldless.has(command)) payloads.push(...hostile.map((value) => JSON.stringify(forgedRequest(value))));
      for (const payload of payloads) {
        const reply = await t.client.callRaw(command, payload, 10_000);
        answers.push(reply.ok ? reply.body : reply.message);
      }
    }
  } finally {
    await t.stop();
  }
  const timestamp = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO |WARN |ERROR) /;
  assert.ok(t.logs.length > 0);
  for (const line of t.logs) {
    assert.equal(line.indexOf('\n'), line.length - 1, `one line per event: ${JSON.stringify(line)}`);
    assert.match(line, timestamp, JSON.stringify(line));
    assert.ok(!line.startsWith('2026-01-01T00:00:00.000Z'), JSON.stringify(line));
    assert.doesNotMatch(line, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\ufffd]/, JSON.stringify(line));
  }
  assert.ok(t.logs.some((line) => line.includes('\\u001b[2J')), 'the escapes are shown, not dropped');
  for (const answer of answers) {
    assert.doesNotMatch(answer, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\ufffd]/, JSON.stringify(answer));
    assert.doesNotMatch(answer, /\n2026-01-01T00:00:00\.000Z/, JSON.stringify(answer));
  }
  assert.ok(answers.some((answer) => /not UTF-8 text \(byte 0xff at offset 7\)/.test(answer)));
});
