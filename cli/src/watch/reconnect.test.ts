import { test } from "node:test";
import assert from "node:assert/strict";
import { Reconnector } from "./reconnect";

function fakeTime() {
  let now = 1_000_000;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

test("resumes after the last seq seen and skips replays", () => {
  const rec = new Reconnector({ random: () => 0 });
  assert.equal(rec.afterSeq, 0n);
  assert.equal(rec.accept(1n), true);
  assert.equal(rec.accept(2n), true);
  assert.equal(rec.accept(2n), false);
  assert.equal(rec.accept(1n), false);
  const d = rec.failed();
  assert.deepEqual(d.retry && d.afterSeq, 2n);
  assert.equal(rec.afterSeq, 2n);
});

test("delays grow exponentially, are capped, and carry jitter", () => {
  const t = fakeTime();
  const low = new Reconnector({ now: t.now, random: () => 0, initialDelayMs: 250, maxDelayMs: 5000 });
  const high = new Reconnector({ now: t.now, random: () => 0.999999, initialDelayMs: 250, maxDelayMs: 5000 });
  const lows: number[] = [];
  const highs: number[] = [];
  for (let i = 0; i < 7; i++) {
    const a = low.failed();
    const b = high.failed();
    assert.ok(a.retry && b.retry);
    lows.push(a.delayMs);
    highs.push(b.delayMs);
  }
  assert.deepEqual(lows, [125, 250, 500, 1000, 2000, 2500, 2500]);
  assert.deepEqual(highs, [250, 500, 1000, 2000, 4000, 5000, 5000]);
});

test("a working stream resets the backoff and the give-up clock", () => {
  const t = fakeTime();
  const rec = new Reconnector({ now: t.now, random: () => 0, giveUpAfterMs: 60_000 });
  rec.failed();
  t.advance(50_000);
  rec.failed();
  rec.accept(7n); // reconnected and got an event
  t.advance(30_000);
  const d = rec.failed();
  assert.ok(d.retry);
  assert.equal(d.delayMs, 125);
  assert.equal(d.afterSeq, 7n);
  rec.connected();
  assert.ok(rec.failed().retry);
});

test("gives up after 60 s without a successful reconnect; never sleeps past the limit", () => {
  const t = fakeTime();
  const rec = new Reconnector({ now: t.now, random: () => 0.999999 });
  rec.connected();
  let slept = 0;
  let last = rec.failed();
  while (last.retry) {
    slept += last.delayMs;
    t.advance(last.delayMs + 20); // each try takes 20 ms to fail
    last = rec.failed();
  }
  assert.equal(last.retry, false);
  assert.ok(!last.retry && last.downForMs >= 60_000 && last.downForMs < 61_000, String(!last.retry && last.downForMs));
  assert.ok(slept <= 60_000);
});

test("a stream that never connected gives up after 5 s", () => {
  const t = fakeTime();
  const rec = new Reconnector({ now: t.now, random: () => 0 });
  assert.ok(rec.failed().retry);
  t.advance(5_000);
  assert.deepEqual(rec.failed(), { retry: false, downForMs: 5_000, everConnected: false });
});
