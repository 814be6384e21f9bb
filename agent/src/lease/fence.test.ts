import { describe, it } from "node:test";
import assert from "node:assert/strict";
import pino from "pino";
import { LeaseFence } from "./fence";
import type { ProbeVerdict } from "./farm-probe";

const log = pino({ level: "silent" });
const LEASE = { ttlMs: 8000, fenceMs: 5600 };

/** A fence on a clock the test moves, with replicas answering probes as `verdicts` says. */
function setup(servers: string[], verdicts: Record<string, ProbeVerdict>, enabled = true) {
  const clock = { t: 0 };
  const fence = new LeaseFence({
    servers,
    enabled,
    log,
    now: () => clock.t,
    probe: async (a) => verdicts[a] ?? "unknown",
  });
  const fired: { id: string; silentMs: number }[] = [];
  const track = (id: string) => fence.track(id, LEASE, (silentMs) => fired.push({ id, silentMs }));
  /** Move time in 100 ms checks (probes answer at once). */
  const advance = async (ms: number) => {
    for (let i = 0; i < ms / 100; i++) {
      clock.t += 100;
      fence.check();
      await new Promise((r) => setImmediate(r));
    }
  };
  return { clock, fence, fired, track, advance };
}

describe("LeaseFence", () => {
  it("stops an attempt once no renewal was acknowledged for its fence, once, and not one that renews", async () => {
    const s = setup(["a:1"], { "a:1": "unknown" });
    const cut = s.track("cut");
    const renewing = s.track("renewing");
    for (let i = 0; i < 10; i++) {
      await s.advance(2000);
      renewing.renewed(s.clock.t - 50);
    }
    assert.equal(s.fired.length, 1);
    assert.equal(s.fired[0]!.id, "cut");
    assert.ok(s.fired[0]!.silentMs > 5600 && s.fired[0]!.silentMs <= 5700, `fired at ${s.fired[0]!.silentMs} ms`);
    cut.untrack();
  });

  it("keeps stages running while every replica refuses connections or stands still (a server outage, a frozen server)", async () => {
    const verdicts: Record<string, ProbeVerdict> = { "a:1": "refused", "b:1": "frozen" };
    const s = setup(["a:1", "b:1"], verdicts);
    s.track("x");
    await s.advance(60_000);
    assert.deepEqual(s.fired, [], "a minute without renewals, every replica shown unable to give the stage away");
    // The positive control, same fence: one replica now answers (alive) but not our renewals.
    verdicts["b:1"] = "alive";
    await s.advance(5000);
    assert.deepEqual(s.fired, [], "within the fence of the last evidence");
    await s.advance(1500);
    assert.equal(s.fired.length, 1, "fenced once the last evidence is older than the fence");
  });

  it("stops the stage when only some replicas show evidence (a replica it cannot reach may be live)", async () => {
    const s = setup(["a:1", "b:1"], { "a:1": "refused", "b:1": "unknown" });
    s.track("x");
    await s.advance(6000);
    assert.equal(s.fired.length, 1);
  });

  it("counts a server's `held` answer (its database is down) as evidence for that server", async () => {
    const s = setup(["a:1"], { "a:1": "alive" });
    const x = s.track("x");
    for (let i = 0; i < 20; i++) {
      await s.advance(1000);
      x.held("a:1", s.clock.t - 300);
    }
    assert.deepEqual(s.fired, []);
    await s.advance(6000);
    assert.equal(s.fired.length, 1, "once the answers stop");
  });

  it("disabled (the test switch), never stops anything", async () => {
    const s = setup(["a:1"], {}, false);
    s.track("x");
    await s.advance(20_000);
    assert.deepEqual(s.fired, []);
  });

  it("after standing still itself, waits one check (the supervisor's word comes first)", async () => {
    const s = setup(["a:1"], {});
    s.track("x");
    s.clock.t += 20_000;
    s.fence.check();
    assert.deepEqual(s.fired, [], "the first check after a stall of this agent");
    await s.advance(100);
    assert.equal(s.fired.length, 1);
  });
});
