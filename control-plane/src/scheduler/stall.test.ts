import { describe, it } from "node:test";
import assert from "node:assert/strict";
import pino from "pino";
import { StallDetector } from "./stall";
import { DependencyHealth } from "../health";

/** A monotonic and a wall clock the test moves. */
function clocks() {
  const t = { mono: 0, wall: 1_000_000 };
  return { t, mono: () => t.mono, wall: () => t.wall };
}

describe("StallDetector", () => {
  it("sees a gap of the loop longer than the bound, and nothing below it", () => {
    const c = clocks();
    const d = new StallDetector(1500, c.wall, c.mono);
    c.t.mono += 1400;
    c.t.wall += 1400;
    assert.equal(d.beat(), null);
    c.t.mono += 20_000;
    c.t.wall += 20_000;
    assert.deepEqual(d.beat(), { gapMs: 20_000, kind: "loop" });
    assert.equal(d.beat(), null, "reported once");
  });

  it("sees a step of the wall clock away from the monotonic one", () => {
    const c = clocks();
    const d = new StallDetector(1500, c.wall, c.mono);
    c.t.mono += 250;
    c.t.wall += 250 + 30_000;
    assert.deepEqual(d.beat(), { gapMs: 30_000, kind: "wall-clock" });
  });
});

describe("DependencyHealth after a stall", () => {
  const log = pino({ level: "silent" });

  for (const stallGrace of [true, false]) {
    it(`${stallGrace ? "holds leases for a lease TTL" : "holds nothing (grace disabled, the positive control)"} after the server stood still`, () => {
      const c = clocks();
      const health = new DependencyHealth({}, 6000, log, c.wall, {
        stallGrace,
        stall: new StallDetector(1500, c.wall, c.mono),
      });
      assert.equal(health.holdOff(), true, "the grace after a start");
      for (let i = 0; i < 30; i++) {
        c.t.mono += 250;
        c.t.wall += 250;
        health.stalled();
      }
      assert.equal(health.holdOff(), false, "the start's grace is over");
      c.t.mono += 20_000;
      c.t.wall += 20_000;
      assert.equal(health.holdOff(), stallGrace, "the first look after the freeze");
      const step = (ms: number) => {
        for (let i = 0; i < ms / 100; i++) {
          c.t.mono += 100;
          c.t.wall += 100;
          health.stalled();
        }
      };
      step(5800);
      assert.equal(health.holdOff(), stallGrace, "5.8 s after the freeze: still a lease TTL to report in");
      step(300);
      assert.equal(health.holdOff(), false, "6.1 s after: leases expire again");
    });
  }
});
