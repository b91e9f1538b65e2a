// Nothing lost offline (issue 13): the agent as its own process, a real mosquitto stopped for 20 s
// and started again on the same port, and a sketch printing a numbered line every 10 ms. Every line
// arrives once and in order after the broker is back; also when the agent is killed with SIGKILL
// in the middle of the outage and started again (the check is then on what the agent received:
// per run of the sketch, no gap, no duplicate, order kept). The listener does what docs/API.md
// asks of a subscriber: it drops a message whose seq is not above the highest it saw on that topic
// (a message in flight as the link dropped or the agent was killed may come twice), and checks
// that each one it dropped is a true duplicate: same seq, same bytes.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import { ChaosWorld } from '../bench/chaos/world.js';
import { waitFor } from './helpers/wait.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outageMs = 20_000;
/** Prints "outbox-line <its pid> <n>" every 10 ms and appends each n to last-<pid> (in its folder):
 * one small write(2) a line, so a sketch killed at any moment leaves whole lines there (a rewrite
 * of one number could be caught, or left, empty). */
const printer = '#!/bin/sh\ni=0\nwhile :; do i=$((i+1)); echo "outbox-line $$ $i"; echo "$i" >> "last-$$"; sleep 0.01; done\n';
const sketchId = 'outbox-printer';

let world: ChaosWorld;
let listener: MqttClient;
/** Payloads of B/sketches/<id>/stdout in arrival order, with their seq property. */
let received: { payload: Buffer; seq: number | undefined }[] = [];
/** B/status messages in arrival order, with their seq property. */
let statuses: { payload: string; seq: number | undefined }[] = [];
/** Messages dropped as duplicates (seq not above the highest seen on their topic). */
let duplicates: { topic: string; payload: Buffer; seq: number }[] = [];

before(async () => {
  world = await ChaosWorld.create({
    agentCommand: (args) => ({ command: process.execPath, args: ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], cwd: root }),
    brokerConfig: ['max_queued_messages 0'],
    // The subscriber's session and what is queued for it outlive the outage, so that what the
    // agent delivers the moment the broker is back reaches it whoever reconnects first.
    brokerPersistence: true,
  });
  await world.publishSketch('printer', printer);
  listener = await mqtt.connectAsync(world.broker.url, { protocolVersion: 5, reconnectPeriod: 100, clean: false, clientId: `outbox-listener-${process.pid}`, properties: { sessionExpiryInterval: 3600 } });
  listener.on('message', (topic, payload, packet) => {
    const property = packet.properties?.userProperties?.seq;
    const seq = property === undefined ? undefined : Number(property);
    const seen = topic === `${world.base}/status` ? statuses : received;
    const highest = seen.at(-1)?.seq;
    if (seq !== undefined && highest !== undefined && seq <= highest) duplicates.push({ topic, payload, seq });
    else if (topic === `${world.base}/status`) statuses.push({ payload: payload.toString(), seq });
    else received.push({ payload, seq });
  });
  await listener.subscribeAsync([`${world.base}/sketches/${sketchId}/stdout`, `${world.base}/status`], { qos: 1 });
});
after(async () => {
  await listener?.endAsync(true);
  await world?.close();
});

/** Lines received, per run of the sketch (its pid), in arrival order. */
function linesByRun(): Map<number, number[]> {
  const text = Buffer.concat(received.map((r) => r.payload)).toString('latin1');
  const runs = new Map<number, number[]>();
  for (const m of text.matchAll(/outbox-line (\d+) (\d+)\r?\n/g)) {
    const lines = runs.get(Number(m[1])) ?? [];
    lines.push(Number(m[2]));
    runs.set(Number(m[1]), lines);
  }
  return runs;
}

const linesIn = (payload: Buffer, pid: number) => payload.toString('latin1').includes(`outbox-line ${pid} `);

async function lastPrinted(pid: number): Promise<number> {
  const text = await readFile(join(world.dataDir, 'sketches', `last-${pid}`), 'utf8');
  return Number(text.slice(0, text.lastIndexOf('\n')).split('\n').pop());
}

/** Every line the sketch printed arrived. The printer writes a line to the terminal, then its
 * number to the file: a STOP between the two leaves the terminal one line ahead of the file. */
async function assertAllArrived(lines: number[], pid: number, what: string): Promise<void> {
  const printed = await lastPrinted(pid);
  const ahead = lines.length - printed;
  assert.ok(ahead === 0 || ahead === 1, `${what}: ${lines.length} lines arrived of ${printed} printed; the agent's log ends:\n${world.agentLog.slice(-3000)}`);
}

/** 1, 2, ... n: each line once, in order. */
function assertWhole(lines: number[], what: string): void {
  const gaps = lines.filter((n, i) => n !== i + 1).length;
  assert.equal(gaps, 0, `${what}: ${lines.length} lines, ${gaps} out of place (first ${lines.slice(0, 5).join(',')}, last ${lines.slice(-5).join(',')})`);
}

/** Every message carried a seq, and each one dropped repeats a delivered one byte for byte: a
 * message sent twice, never a new one numbered out of order. */
function assertOnlyTrueDuplicates(): void {
  assert.ok(received.every((r) => r.seq !== undefined), 'every message carries its seq');
  for (const d of duplicates) {
    const original = (d.topic === `${world.base}/status` ? statuses.map((m) => ({ seq: m.seq, payload: Buffer.from(m.payload) })) : received).find((r) => r.seq === d.seq);
    assert.ok(original?.payload.equals(d.payload), `seq ${d.seq} on ${d.topic} came again with other bytes, or out of order`);
  }
  // At most the window of messages that can be on their way at once (32) for one link loss or kill.
  assert.ok(duplicates.length <= 64, `${duplicates.length} duplicates`);
}

async function runPrinter(): Promise<number> {
  const answer = await world.call('upload', JSON.stringify({ id: sketchId, name: sketchId, url: world.http.url('/printer') }), 30_000);
  assert.match(answer ?? '', /^INFO: Sketch started with PID \d+/);
  await waitFor(() => linesByRun().size === 1 && [...linesByRun().values()][0]!.length >= 100, 'the first 100 lines', 30_000);
  return [...linesByRun().keys()][0]!;
}

async function stopPrinter(): Promise<void> {
  assert.match((await world.call('sketch', JSON.stringify({ id: sketchId, action: 'STOP' }), 15_000)) ?? '', /^INFO:/);
}

/** Waits until no message came for `quietMs`. */
async function settle(quietMs: number): Promise<void> {
  for (;;) {
    const count = received.length;
    await new Promise((r) => setTimeout(r, quietMs));
    if (received.length === count) return;
  }
}

describe('the outbox across a broker outage', { concurrency: false }, () => {
  it('delivers every line printed during a 20 s outage once, in order, after the broker is back', async (t: TestContext) => {
    received = [];
    duplicates = [];
    await world.startAgent();
    const pid = await runPrinter();
    await world.broker.stop();
    await new Promise((r) => setTimeout(r, outageMs));
    const printedByReturn = await lastPrinted(pid);
    await world.broker.start();
    const back = performance.now();
    await waitFor(() => (linesByRun().get(pid)?.length ?? 0) >= printedByReturn, 'the lines printed during the outage', 60_000);
    const drainedMs = performance.now() - back;
    await stopPrinter();
    await settle(2000);
    const lines = linesByRun().get(pid)!;
    assertWhole(lines, 'the run across the outage');
    await assertAllArrived(lines, pid, 'the run across the outage');
    assertOnlyTrueDuplicates();
    t.diagnostic(`${lines.length} lines, ${printedByReturn} printed by the broker's return, all there ${Math.round(drainedMs)} ms after it; ${received.length} messages, ${duplicates.length} duplicates dropped`);
    await world.killAgent('SIGTERM');
  });

  it('loses nothing the agent queued when it is killed with SIGKILL during the outage and started again', async (t: TestContext) => {
    received = [];
    statuses = [];
    duplicates = [];
    await world.startAgent();
    const firstRun = await runPrinter();
    await world.broker.stop();
    await new Promise((r) => setTimeout(r, outageMs / 2));
    await world.killAgent('SIGKILL');
    // The sketch loses its terminal with the agent and ends (SIGHUP).
    await new Promise((r) => setTimeout(r, 500));
    const printedByKill = await lastPrinted(firstRun);
    world.spawnAgent();
    await new Promise((r) => setTimeout(r, outageMs / 2));
    await world.broker.start();
    // The restarted agent restarts the sketch: a second run, numbered from 1 again.
    await waitFor(() => linesByRun().size === 2 && (linesByRun().get(firstRun)?.length ?? 0) > 0, 'lines of the second run', 60_000);
    await stopPrinter();
    await settle(2000);
    const runs = linesByRun();
    const secondRun = [...runs.keys()].find((pid) => pid !== firstRun)!;
    const first = runs.get(firstRun)!;
    const second = runs.get(secondRun)!;
    assertWhole(first, 'the killed run');
    assertWhole(second, 'the run after the restart');
    await assertAllArrived(second, secondRun, 'the run after the restart');
    assertOnlyTrueDuplicates();
    // The restarted agent started the sketch again while the broker was away: that B/status was
    // queued too, in order with the output (its seq between the two runs' output).
    const secondRunSeq = received.find((r) => r.payload.toString('latin1').includes(`outbox-line ${secondRun} 1\r\n`))?.seq;
    assert.ok(secondRunSeq !== undefined, 'the second run\'s first line carries a seq');
    const offlineStatus = statuses.find((m) => m.seq !== undefined && m.seq < secondRunSeq && m.payload.includes('"RUNNING"') && m.seq > received.find((r) => linesIn(r.payload, firstRun))!.seq!);
    assert.ok(offlineStatus, `a B/status made while offline arrived, ordered before the second run's output (${JSON.stringify(statuses.map((m) => m.seq))})`);
    // What the killed agent had not yet read from the terminal or handed to its outbox (at most
    // the few lines of one message) is all that may be missing, at the end of the killed run.
    t.diagnostic(`killed run: ${first.length} lines received of ${printedByKill} printed by the kill; second run: ${second.length} lines; ${duplicates.length} duplicates dropped`);
    assert.ok(printedByKill - first.length < 50, `${printedByKill - first.length} lines of the killed run missing at its end`);
  });
});
