// One revision everywhere, also when a process dies mid-update: kill -9 of the server while a
// host rolls (the restarted server resumes the coordinator and finishes), and kill -9 of an
// agent while its host rolls (its step is lost, the update rolls back, and the rollback of that
// host waits for the agent to come back). Afterwards every host serves one revision and runs
// replicas of that revision only.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  assertOneRevision,
  bodiesOver,
  HOSTS,
  releasePipeline,
  replicasOn,
  serviceFile,
  ServiceFarm,
  waitFor,
} from "../index";

describe("services: one revision everywhere across a kill -9", { timeout: 600_000 }, () => {
  let sf: ServiceFarm;
  const files = (env: Record<string, string>) => ({
    "services/web.yml": serviceFile({ name: "kill-web", proxyPort: sf.proxyPort, env, maxParallel: 1 }),
  });

  before(async () => {
    sf = new ServiceFarm();
    await sf.start();
    const run = await sf.release(files({ GREETING: "base", REV: "1" }), releasePipeline("kill-web"));
    assert.equal((await sf.waitStageEnd(run)).state, "succeeded");
  });
  after(async () => {
    await sf?.stop();
  });

  it("kill -9 of the server while a host rolls: the restarted server finishes the update", async () => {
    const run = await sf.release(files({ GREETING: "next", REV: "2", READY_DELAY: "2" }), releasePipeline("kill-web"));
    await waitFor(async () => /rolling host host-a/.test((await sf.stageOf(run))?.reason ?? ""), {
      timeoutMs: 30_000,
      message: "host-a to roll",
    });
    await sf.farm.killServer(0);
    await sf.farm.startServer(0);
    const stage = await sf.waitStageEnd(run, 180_000);
    assert.equal(stage.state, "succeeded", stage.reason ?? "");
    await assertOneRevision("kill-web", 2);
    assert.deepEqual([...(await bodiesOver(sf.addresses()))], ["next rev2"]);
  });

  it("kill -9 of an agent while its host rolls: the update rolls back once the agent is back", async () => {
    const run = await sf.release(
      files({ GREETING: "doomed", REV: "3", READY_DELAY: "3" }),
      releasePipeline("kill-web"),
    );
    await waitFor(async () => /rolling host host-a/.test((await sf.stageOf(run))?.reason ?? ""), {
      timeoutMs: 30_000,
      message: "host-a to roll",
    });
    sf.killAgent("host-a");
    await waitFor(async () => /rolling back/.test((await sf.stageOf(run))?.reason ?? ""), {
      timeoutMs: 60_000,
      message: "the update to roll back after host-a's step was lost",
    });
    sf.startAgent("host-a");
    const stage = await sf.waitStageEnd(run, 180_000);
    assert.equal(stage.state, "failed");
    assert.match(stage.reason ?? "", /^rolled back to revision 2: revision 3 lost on host-a/);
    await assertOneRevision("kill-web", 2);
    assert.deepEqual([...(await bodiesOver(sf.addresses()))], ["next rev2"]);
  });
});
