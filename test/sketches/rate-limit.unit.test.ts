// The output flood guard, driven by a hand-moved clock so a day passes in no time.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MessageRateLimiter, type Clock } from '../../src/sketches/rate-limit.js';

function manualClock(): Clock & { advance(ms: number): void; slept: number[] } {
  let now = 1_700_000_000_000;
  const slept: number[] = [];
  return {
    slept,
    now: () => now,
    advance: (ms) => void (now += ms),
    sleep: async (ms) => {
      slept.push(ms);
      now += ms;
    },
  };
}

describe('MessageRateLimiter', () => {
  it('lets the first 1,000 messages through, then delays each by count/1000 s', () => {
    const limiter = new MessageRateLimiter({ clock: manualClock() });
    for (let i = 1; i <= 1000; i++) assert.equal(limiter.next(), 0, `message ${i}`);
    assert.equal(limiter.next(), 1001);
    assert.equal(limiter.next(), 1002);
    assert.equal(limiter.counted, 1002);
  });

  it('never waits more than 20 s', () => {
    const limiter = new MessageRateLimiter({ clock: manualClock() });
    let last = 0;
    for (let i = 1; i <= 25_000; i++) last = limiter.next();
    assert.equal(last, 20_000);
  });

  it('starts counting again a day after the window opened', () => {
    const clock = manualClock();
    const limiter = new MessageRateLimiter({ clock });
    for (let i = 0; i < 1500; i++) limiter.next();
    clock.advance(24 * 60 * 60 * 1000 - 1);
    assert.equal(limiter.next(), 1501, 'still the same day');
    clock.advance(1);
    assert.equal(limiter.next(), 0, 'a new day');
    assert.equal(limiter.counted, 1);
  });

  it('take() waits the delay on the clock', async () => {
    const clock = manualClock();
    const limiter = new MessageRateLimiter({ clock, freeMessages: 2, maxDelayMs: 5 });
    for (let i = 0; i < 5; i++) await limiter.take();
    assert.deepEqual(clock.slept, [3, 4, 5]);
  });

  it('the real clock ends a wait early when aborted', async () => {
    const limiter = new MessageRateLimiter({ freeMessages: 0, maxDelayMs: 60_000 });
    const abort = new AbortController();
    const waiting = limiter.take(abort.signal);
    abort.abort();
    await waiting;
    assert.equal(limiter.counted, 1);
  });
});
