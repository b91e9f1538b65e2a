// The short chaos run of issue 10 (the full one is `npm run bench -- chaos`): 1,000 hostile
// requests over every topic, unthrottled, then 3 kill -9s of the agent during uploads and sketch
// actions. Every request is answered, the broker drops nothing, the agent's files stay whole and
// no sketch runs twice.

import assert from 'node:assert/strict';
import { dirname, join, resolve } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runChaos } from '../bench/chaos/run.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

it('answers 1,000 hostile requests and survives 3 kill -9s with its files whole', async () => {
  const result = await runChaos({
    agentCommand: (args) => ({ command: process.execPath, args: ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], cwd: root }),
    seed: 20261201,
    payloads: 1000,
    killRounds: 3,
    outageSeconds: 0,
    loadSeconds: 0,
    loadClients: 0,
    idleSeconds: 0,
    settleSeconds: 0,
  });
  const { flood, kills } = result;
  assert.equal(flood.answered, flood.sent, 'every request answered');
  assert.equal(flood.malformedAnswers, 0, 'every answer starts with INFO: or ERROR:');
  assert.equal(flood.brokerDrops, 0, 'the broker dropped nothing');
  assert.deepEqual(kills.problems, [], 'files whole, the agent serving again, no twin after each kill');
  assert.equal(kills.intact, 3);
  // The flood reached every kind of hostile request.
  for (const kind of ['malformed', 'oversized', 'deeply nested', 'not UTF-8', 'forged log line', 'traversal', 'injection']) {
    assert.ok((result.kinds[kind] ?? 0) > 0, `some ${kind} requests were sent`);
  }
});
