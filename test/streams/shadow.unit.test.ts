// B/shadow/update without a bus: how a message is written for the shadow, and the forwarder's
// budget and queue, driven by a hand-moved clock over the in-memory broker.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { binaryOfShadowValue, decodeShadowUpdate, encodeShadowUpdate } from '../../src/api/shadow.js';
import { createLogger } from '../../src/log.js';
import { MemoryBroker } from '../../src/mqtt/memory-bus.js';
import { MessageRateLimiter, type Clock } from '../../src/sketches/rate-limit.js';
import { ShadowForwarder } from '../../src/streams/shadow-forwarder.js';
import { waitFor } from '../helpers/wait.js';

const bytes = (text: string) => new TextEncoder().encode(text);

describe('encodeShadowUpdate', () => {
  it('keeps JSON data byte for byte: digits, spaces and key order as sent', () => {
    const data = '{ "v": 1.50, "big": 123456789012345678901234567890, "z": 1, "a": [true, null] }';
    assert.equal(encodeShadowUpdate('temp', bytes(data)), `{"state":{"reported":{"temp":${data}}}}`);
    for (const value of ['42', '-0.5e3', '"text"', 'null', 'false', '[]', ' 7 \n']) {
      assert.equal(encodeShadowUpdate('x', bytes(value)), `{"state":{"reported":{"x":${value}}}}`);
    }
  });

  it('sends text that is not JSON as a JSON string of it', () => {
    for (const text of ['hello', 'say "hi"\\', 'line\nbreak\u0000\u001b[31m', '', '   ', '\ufeff{}', '{"open":', 'NaN', '1 2', 'ünïcødé ✓ \u2028']) {
      const payload = encodeShadowUpdate('note', bytes(text));
      assert.deepEqual(decodeShadowUpdate(payload), { name: 'note', value: text }, JSON.stringify(text));
    }
  });

  it('sends bytes that are not UTF-8 as a data: URL of exactly those bytes', () => {
    for (const data of [Buffer.from([0xff, 0x00, 0xc3]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xc0, 0xaf]), Buffer.from('{"a":1}\xff', 'latin1')]) {
      const { value } = decodeShadowUpdate(encodeShadowUpdate('raw', data));
      assert.match(String(value), /^data:application\/octet-stream;base64,/);
      assert.deepEqual(binaryOfShadowValue(value), data);
    }
  });

  it('escapes the name, so no name can break out of its key', () => {
    for (const name of ['a"b', 'back\\slash', 'ctl\u0001\u007f', '__proto__', '"},"x":{"', 'ünï', '*']) {
      const payload = encodeShadowUpdate(name, bytes('1'));
      assert.deepEqual(decodeShadowUpdate(payload), { name, value: 1 });
      assert.deepEqual(Object.keys(JSON.parse(payload).state.reported), [name]);
    }
  });
});

/** A clock moved by hand only; each sleep is recorded and, unless held, passes at once (so a
 * test can send days' worth of delayed messages without the day passing). */
function manualClock() {
  let now = 1_700_000_000_000;
  const slept: number[] = [];
  let held: Array<() => void> | undefined;
  const clock: Clock & { slept: number[]; advance(ms: number): void; hold(): void; release(): void } = {
    slept,
    now: () => now,
    advance: (ms) => void (now += ms),
    sleep: (ms) => {
      slept.push(ms);
      if (!held) return Promise.resolve();
      return new Promise<void>((resolve) => held!.push(resolve));
    },
    hold: () => void (held = []),
    release: () => {
      const waiting = held ?? [];
      held = undefined;
      for (const resolve of waiting) resolve();
    },
  };
  return clock;
}

function setUp(options: { queueLimit?: number; freeMessages?: number } = {}) {
  const broker = new MemoryBroker();
  const sink = broker.client();
  const received: string[] = [];
  let onMessage: (() => void) | undefined;
  const watcher = broker.client();
  void watcher.subscribe('B/shadow/update', (_topic, payload) => {
    received.push(payload.toString());
    onMessage?.();
  });
  /** Resolves once the next message arrived. */
  const nextMessage = () => new Promise<void>((resolve) => (onMessage = resolve));
  const clock = manualClock();
  const lines: string[] = [];
  const log = createLogger({ level: 'debug', write: (line) => void lines.push(line) });
  const limiter = new MessageRateLimiter({ clock, ...(options.freeMessages === undefined ? {} : { freeMessages: options.freeMessages }) });
  const forwarder = new ShadowForwarder({ sink, topic: 'B/shadow/update', limiter, clock, queueLimit: options.queueLimit ?? 1000, log });
  return { sink, received, nextMessage, clock, lines, forwarder };
}

describe('ShadowForwarder', () => {
  it("applies the contract's budget: 1,000 free, then min(20 s, count/1000 s) each, new count after a day", async () => {
    const { nextMessage, clock, forwarder } = setUp();
    const send = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const arrived = nextMessage();
        forwarder.push(`m${i}`);
        await arrived;
      }
    };
    await send(1000);
    assert.deepEqual(clock.slept, []);
    await send(2);
    assert.deepEqual(clock.slept, [1001, 1002]);
    await send(20_000 - 1002);
    assert.equal(clock.slept.at(-1), 20_000);
    await send(5);
    assert.deepEqual(clock.slept.slice(-5), [20_000, 20_000, 20_000, 20_000, 20_000]);
    // The window opened a day (of clock) ago: the count starts over.
    clock.advance(24 * 60 * 60 * 1000);
    const slept = clock.slept.length;
    await send(3);
    assert.equal(clock.slept.length, slept);
    assert.equal(forwarder.counters.forwarded, 20_008);
  });

  it('keeps the newest messages when the queue is full, and says so once with the count', async () => {
    const { received, clock, lines, forwarder } = setUp({ queueLimit: 3, freeMessages: 0 });
    clock.hold();
    for (let i = 1; i <= 10; i++) forwarder.push(`m${i}`);
    assert.equal(forwarder.counters.dropped, 7);
    assert.equal(forwarder.waiting, 3);
    clock.release();
    await waitFor(() => received.length === 3, 'the three newest');
    assert.deepEqual(received, ['m8', 'm9', 'm10']);
    assert.deepEqual(clock.slept, [1, 2, 3]);
    const said = lines.filter((line) => /dropp/.test(line));
    assert.equal(said.length, 2, said.join(''));
    assert.match(said[0]!, /3 bus messages wait for the rate limit; dropping the oldest/);
    assert.match(said[1]!, /7 bus messages were dropped while the queue was full/);
  });

  it('counts what the sink refuses, says it once, and says when messages go through again', async () => {
    const broker = new MemoryBroker();
    const received: string[] = [];
    void broker.client().subscribe('B/shadow/update', (_topic, payload) => received.push(payload.toString()));
    // The broker session as the agent sees it across an outage: a closed one, then a new one.
    let session = broker.client();
    session.close();
    const sink = { publish: (...args: Parameters<typeof session.publish>) => session.publish(...args) };
    const clock = manualClock();
    const lines: string[] = [];
    const log = createLogger({ level: 'debug', write: (line) => void lines.push(line) });
    const forwarder = new ShadowForwarder({ sink, topic: 'B/shadow/update', limiter: new MessageRateLimiter({ clock }), clock, queueLimit: 1000, log });
    for (let i = 0; i < 5; i++) forwarder.push(`lost${i}`);
    await waitFor(() => forwarder.counters.failed === 5, 'the refusals');
    assert.equal(lines.filter((line) => /could not be sent/.test(line)).length, 1);
    session = broker.client();
    forwarder.push('back');
    await waitFor(() => received.length === 1, 'the message after the outage');
    assert.deepEqual(received, ['back']);
    assert.match(lines.at(-1)!, /sent again, after 5 bus messages that could not be sent/);
    assert.deepEqual(forwarder.counters, { forwarded: 1, dropped: 0, failed: 5 });
  });
});
