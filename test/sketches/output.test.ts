// Sketch output through a real mosquitto: coalescing, order, both topics, back-pressure, pacing
// (messages per second and the byte rate, on a clock of the test's own),
// and the loader's missing-library message.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { silentLogger } from '../../src/log.js';
import { MqttConnection } from '../../src/mqtt/connection.js';
import { MissingLibraryDetector, SketchOutput, type FlowControl } from '../../src/sketches/output.js';
import { SketchProcess } from '../../src/sketches/process.js';
import type { Clock } from '../../src/sketches/rate-limit.js';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

let broker: Broker;
let bus: MqttConnection;
let watcher: MqttClient;
const received = new Map<string, Buffer[]>();
let topicCounter = 0;

before(async () => {
  broker = await startMosquitto();
  bus = new MqttConnection({ url: broker.url, clientId: `output-test-${process.pid}` }, silentLogger);
  bus.start();
  await waitFor(() => bus.connected, 'the publisher to connect');
  watcher = await mqtt.connectAsync(broker.url);
  watcher.on('message', (topic, payload) => {
    const list = received.get(topic) ?? [];
    list.push(payload);
    received.set(topic, list);
  });
  await watcher.subscribeAsync('out/#', { qos: 1 });
});
after(async () => {
  await watcher?.endAsync();
  await bus?.stop();
  await broker?.close();
});

/** Two fresh topics, like B/stdout and B/sketches/<id>/stdout. */
function freshTopics(): string[] {
  topicCounter += 1;
  return [`out/${topicCounter}/stdout`, `out/${topicCounter}/sketches/s/stdout`];
}

const bytesOn = (topic: string) => Buffer.concat(received.get(topic) ?? []);
const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

class RecordingFlow implements FlowControl {
  holds = 0;
  releases = 0;
  held = false;
  holdOutput(): void {
    this.holds += 1;
    this.held = true;
  }
  releaseOutput(): void {
    this.releases += 1;
    this.held = false;
  }
}

describe('SketchOutput', () => {
  it('coalesces many small chunks into few messages, in order, on both topics', async () => {
    const topics = freshTopics();
    const output = new SketchOutput({ bus, topics, flow: new RecordingFlow(), log: silentLogger });
    const sent: Buffer[] = [];
    for (let i = 0; i < 5000; i++) {
      const chunk = Buffer.from(`line ${i}\r\n`);
      sent.push(chunk);
      output.push(chunk);
    }
    await output.drain();
    const expected = Buffer.concat(sent);
    for (const topic of topics) {
      await waitFor(() => bytesOn(topic).length === expected.length, `all bytes on ${topic}`);
      assert.equal(sha(bytesOn(topic)), sha(expected));
      assert.ok(received.get(topic)!.length < 10, `${received.get(topic)!.length} messages for 5000 chunks`);
    }
    assert.equal(output.publishedBytes, expected.length);
  });

  it('flushes a lone partial message after a few milliseconds', async () => {
    const topics = freshTopics();
    const output = new SketchOutput({ bus, topics, flow: new RecordingFlow(), log: silentLogger, flushDelayMs: 5 });
    output.push(Buffer.from('prompt> '));
    await waitFor(() => bytesOn(topics[0]!).toString() === 'prompt> ', 'the partial line');
  });

  it('never sends a message larger than the limit', async () => {
    const topics = freshTopics();
    const output = new SketchOutput({ bus, topics, flow: new RecordingFlow(), log: silentLogger, maxMessageBytes: 1000 });
    const data = Buffer.alloc(10_500, 'x');
    output.push(data.subarray(0, 4000));
    output.push(data.subarray(4000));
    await output.drain();
    await waitFor(() => bytesOn(topics[0]!).length === data.length, 'all bytes');
    assert.deepEqual(received.get(topics[0]!)!.map((m) => m.length), [...Array(10).fill(1000), 500]);
  });

  it('holds the source while too much is unacknowledged and releases it as the broker catches up', async () => {
    const topics = freshTopics();
    const flow = new RecordingFlow();
    const output = new SketchOutput({ bus, topics, flow, log: silentLogger, highWaterBytes: 128 * 1024, maxMessageBytes: 16 * 1024 });
    const data = Buffer.alloc(2 * 1024 * 1024);
    for (let i = 0; i < data.length; i += 4) data.writeUInt32BE(i / 4, i);
    for (let i = 0; i < data.length; i += 4096) output.push(data.subarray(i, i + 4096));
    assert.equal(flow.held, true, 'held after 2 MiB pushed at once');
    await output.drain();
    assert.equal(flow.held, false, 'released once everything went out');
    assert.ok(flow.holds >= 1 && flow.releases === flow.holds);
    for (const topic of topics) {
      await waitFor(() => bytesOn(topic).length === data.length, `all bytes on ${topic}`);
      assert.equal(sha(bytesOn(topic)), sha(data));
    }
  });

  /** A clock whose sleeps pass at once and move its time on. */
  const testClock = () => {
    const clock = { at: 0, slept: [] as number[], now: () => clock.at, sleep: async (ms: number) => void (clock.slept.push(ms), (clock.at += ms)) };
    return clock satisfies Clock;
  };

  it('holds back only messages that are not full: at most messagesPerSecond of them, each as full as the waiting output allows', async () => {
    const clock = testClock();
    const topics = freshTopics();
    const output = new SketchOutput({ bus, topics, flow: new RecordingFlow(), log: silentLogger, maxMessageBytes: 100, messagesPerSecond: 4, clock });
    output.push(Buffer.alloc(550, 'y'));
    await output.drain();
    assert.equal(output.messages, 6, 'six messages of at most 100 bytes');
    // The five full ones go at once; the last, not full, a quarter of a second after them.
    assert.equal(clock.at, 250);
    await waitFor(() => bytesOn(topics[0]!).length === 550, 'all bytes');
    assert.deepEqual(received.get(topics[0]!)!.map((m) => m.length), [100, 100, 100, 100, 100, 50]);
    // Output that trickles in: each message that is not full waits its quarter of a second.
    output.push(Buffer.alloc(30, 'z'));
    await output.drain();
    output.push(Buffer.alloc(30, 'z'));
    await output.drain();
    assert.equal(clock.at, 750);
    assert.equal(output.messages, 8);
  });

  it('keeps within sketch_output_rate bytes per second, and sends everything in order', async () => {
    const clock = testClock();
    const topics = freshTopics();
    const output = new SketchOutput({ bus, topics, flow: new RecordingFlow(), log: silentLogger, bytesPerSecond: 200, messagesPerSecond: 1000, clock });
    const data = Buffer.from([...Array(100).keys()].map((i) => `line ${i}\n`).join(''));
    output.push(data);
    await output.drain();
    // One second's worth goes at once; the rest at 200 bytes a second.
    assert.ok(clock.at >= ((data.length - 200) / 200) * 1000 - 1, `${clock.at} ms for ${data.length} bytes`);
    await waitFor(() => bytesOn(topics[0]!).length === data.length, 'all bytes');
    assert.equal(bytesOn(topics[0]!).toString(), data.toString());
    assert.ok(received.get(topics[0]!)!.every((m) => m.length <= 200));
  });

  it('counts nothing that failed to send as sent', async () => {
    const failing = { publish: async () => Promise.reject(new Error('no broker')) };
    const clock = testClock();
    const output = new SketchOutput({ bus: failing, topics: freshTopics(), flow: new RecordingFlow(), log: silentLogger, bytesPerSecond: 1000, clock });
    output.push(Buffer.alloc(3000, 'z'));
    await output.drain();
    assert.equal(output.publishedBytes, 0);
    assert.equal(output.messages, 3);
  });

  it('publishes the output of a real program completely', async () => {
    const dir = await tempDir('ac-output-');
    try {
      const topics = freshTopics();
      const sketch = SketchProcess.start({ file: '/bin/sh', args: ['-c', 'seq 1 300000'], cwd: dir.path, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
      const output = new SketchOutput({ bus, topics, flow: sketch, log: silentLogger, highWaterBytes: 64 * 1024 });
      sketch.onOutput((chunk) => output.push(chunk));
      await sketch.exited;
      await output.drain();
      await waitFor(() => bytesOn(topics[1]!).length >= 2_088_895, 'all output');
      const lines = bytesOn(topics[1]!).toString().split('\r\n');
      assert.equal(lines.pop(), '');
      assert.equal(lines.length, 300_000);
      lines.forEach((line, i) => assert.equal(line, String(i + 1)));
    } finally {
      await dir.remove();
    }
  });

  it('reports a library the loader could not find, once, even across chunk boundaries', async () => {
    const found: string[] = [];
    const topics = freshTopics();
    const output = new SketchOutput({ bus, topics, flow: new RecordingFlow(), log: silentLogger, onMissingLibrary: (lib) => found.push(lib) });
    const text = './blink: error while loading shared libraries: libmissing.so.3: cannot open shared object file: No such file or directory\r\n';
    const cut = text.indexOf('libmiss') + 4;
    output.push(Buffer.from(text.slice(0, cut)));
    output.push(Buffer.from(text.slice(cut)));
    output.push(Buffer.from(text));
    await output.drain();
    assert.deepEqual(found, ['libmissing.so.3']);
  });
});

describe('MissingLibraryDetector', () => {
  it('finds every missing library and ignores other output', () => {
    const found: string[] = [];
    const detector = new MissingLibraryDetector((lib) => found.push(lib));
    detector.feed(Buffer.from('hello\r\nerror while loading shared libraries: nothing here\r\n'));
    detector.feed(Buffer.from('x: error while loading shared libraries: liba.so: cannot open shared object file\r\n'));
    detector.feed(Buffer.from('y: error while loading shared libraries: libb.so.1: cannot open shared object file\r\n'));
    assert.deepEqual(found, ['liba.so', 'libb.so.1']);
  });
});
