import { test } from "node:test";
import assert from "node:assert/strict";
import { Backoff, BACKOFF, isRetryable } from "./retry";
import { RegistrationRefusedError } from "./transport/register";

const delays = (b: Backoff, n: number) => Array.from({ length: n }, () => Math.round(b.next()));

test("a backoff doubles from its first delay up to its cap, jittered into the upper half", () => {
  const low = new Backoff(BACKOFF.register, () => 0);
  const high = new Backoff(BACKOFF.register, () => 0.999999);
  assert.deepEqual(delays(low, 8), [100, 200, 400, 800, 1600, 2500, 2500, 2500]);
  assert.deepEqual(delays(high, 8), [200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
});

test("reset starts the streak over; without it the delay stays at the cap", () => {
  const b = new Backoff(BACKOFF.supervisorRestart, () => 0.999999);
  assert.deepEqual(delays(b, 8), [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
  b.reset();
  assert.deepEqual(delays(b, 2), [100, 200]);
});

test("every loop's delays stay within its first delay and cap", () => {
  for (const [name, opts] of Object.entries(BACKOFF)) {
    const b = new Backoff(opts);
    for (const d of delays(b, 12)) assert.ok(d >= opts.initialMs / 2 - 1 && d <= opts.maxMs, `${name}: ${d}`);
  }
});

test("only the server's refusal is final for the agent's client", () => {
  assert.equal(isRetryable(new RegistrationRefusedError("invalid", "join token unknown")), false);
  assert.equal(isRetryable(Object.assign(new Error("14 UNAVAILABLE: No connection established"), { code: 14 })), true);
  assert.equal(isRetryable(new Error("empty registration response")), true);
});
