// The token bucket's arithmetic with a fake clock, and the middleware's 429 through the app.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { TokenBuckets } from "./rate-limit";

describe("TokenBuckets", () => {
  it("grants a burst, then one per 1/rate seconds, and says how long to wait", () => {
    let now = 1_000_000;
    const b = new TokenBuckets({ perSecond: 2, burst: 3, now: () => now });
    assert.deepEqual([b.take("a"), b.take("a"), b.take("a")], [0, 0, 0]);
    assert.equal(b.take("a"), 1, "empty: a token is back in 0.5 s, answered as 1 s");
    assert.equal(b.take("b"), 0, "another key has its own bucket");
    now += 499;
    assert.equal(b.take("a"), 1);
    now += 1;
    assert.equal(b.take("a"), 0, "half a second later one token is back");
    assert.equal(b.take("a"), 1);
    now += 10_000;
    assert.deepEqual([b.take("a"), b.take("a"), b.take("a"), b.take("a")], [0, 0, 0, 1], "refills up to burst only");
  });

  it("answers the wait in whole seconds for slow rates", () => {
    let now = 0;
    const b = new TokenBuckets({ perSecond: 0.25, burst: 1, now: () => now });
    assert.equal(b.take("k"), 0);
    assert.equal(b.take("k"), 4);
    now += 3000;
    assert.equal(b.take("k"), 1);
  });

  it("keeps at most maxKeys buckets, dropping refilled ones first", () => {
    let now = 0;
    const b = new TokenBuckets({ perSecond: 1, burst: 2, now: () => now, maxKeys: 3 });
    for (const k of ["a", "b", "c"]) b.take(k);
    now += 1000;
    b.take("c");
    now += 1000; // a and b have refilled (2 s since their take); c has not
    b.take("d");
    assert.equal(b.size, 2, "a and b dropped, c and d kept");
    assert.equal(b.take("c"), 0);
    assert.equal(b.take("c"), 0);
    assert.notEqual(b.take("c"), 0, "c kept its state");
  });
});
