// Server kinds spawning agent work, on real agents and a real server process (test/src/bin/
// server-probe.ts registers the test-only `fanout` kind; its stage rows are written here, as no
// pipeline can name it): two shell children, one pinned, run on the right agents with their
// logs in the run's events; a kill -9 of the server between the spawn and the children's ends
// still tells the parent of each end exactly once and the parent ends; a run cancel stops the
// children's processes; a child pinned to a lost agent ends failed with that reason.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { fanoutSummary, logsByStage, OutageFarm, runEvents, waitFor, type FanoutChild, type RunClient } from "../index";

describe("server kinds spawn agent work (real agents, kill -9 of the server)", { timeout: 180_000 }, () => {
  let farm: OutageFarm;
  const ids: Record<string, string> = {};

  before(async () => {
    farm = new OutageFarm({ serverBin: "server-probe.ts" });
    await farm.start();
    for (const name of ["alpha", "beta", "gamma"]) farm.spawnAgent(name, { executor: "shell", capacity: 2 });
    await farm.waitAgentsOnline(3);
    for (const r of (await farm.pg.query<{ id: string; name: string }>("SELECT id, name FROM agents")).rows)
      ids[r.name] = r.id;
  });
  after(async () => {
    await farm?.stop();
  });

  let runNumber = 0;
  async function fanoutRun(children: FanoutChild[]): Promise<{ runId: string; stageId: string }> {
    const runId = randomUUID();
    const stageId = randomUUID();
    await farm.pg.query(
      `INSERT INTO runs (id, name, state, pipeline_yaml, created_at, number) VALUES ($1, 'fan', 'queued', '', now(), $2)`,
      [runId, ++runNumber],
    );
    await farm.pg.query(
      `INSERT INTO stages (id, run_id, name, position, state, type, runs_on, spec, retry_count, retry_on, queued_at)
      VALUES ($1, $2, 'gate', 0, 'queued', 'fanout', 'server', $3, 0, '[]', now())`,
      [
        stageId,
        runId,
        JSON.stringify({ kind: { type: "fanout", children }, refs: [], source: { kind: "upload" }, registry: null }),
      ],
    );
    return { runId, stageId };
  }
  const stage = async (id: string) =>
    (await farm.pg.query(`SELECT state, reason, outputs FROM stages WHERE id = $1`, [id])).rows[0];
  const kids = async (runId: string) =>
    (
      await farm.pg.query(
        `SELECT s.name, s.state, s.reason, g.name AS agent FROM stages s LEFT JOIN agents g ON g.id = s.agent_id
        WHERE s.run_id = $1 AND s.parent_stage_id IS NOT NULL ORDER BY s.name`,
        [runId],
      )
    ).rows;
  const told = async (runId: string) =>
    (
      await farm.pg.query(
        `SELECT payload->>'key' AS key FROM run_events WHERE run_id = $1 AND kind = 'fanout' AND payload->>'action' = 'child-ended' ORDER BY seq`,
        [runId],
      )
    ).rows.map((r) => r.key as string);
  const runState = async (runId: string) =>
    (await farm.pg.query(`SELECT state FROM runs WHERE id = $1`, [runId])).rows[0].state as string;

  it("runs both children on the right agents, logs in the run's events, and the parent ends with a summary", async () => {
    const { runId, stageId } = await fanoutRun([
      { key: "one", commands: ['echo "hello from one"', 'echo "v=1" >> "$DOCKYARD_OUTPUT"'] },
      { key: "two", commands: ['echo "hello from two"', "exit 4"], agentId: ids.beta! },
    ]);
    await waitFor(async () => (await stage(stageId)).state === "succeeded", {
      message: "the parent to end",
      timeoutMs: 60_000,
    });
    const children = await kids(runId);
    assert.deepEqual(
      children.map((k) => [k.name, k.state]),
      [
        ["gate/one", "succeeded"],
        ["gate/two", "failed"],
      ],
    );
    assert.equal(children[1].agent, "beta", "the pinned child ran on its agent");
    const parent = await stage(stageId);
    assert.equal(parent.outputs.values.summary, `one=succeeded two=failed(${children[1].reason})`);
    assert.equal(parent.outputs.values["one.v"], "1");
    assert.equal(parent.outputs.values["two.agent"], ids.beta);
    assert.deepEqual((await told(runId)).sort(), ["one", "two"]);
    assert.equal(await runState(runId), "succeeded", "the parent decided: a failed child did not fail the run");
    const logs = logsByStage(await runEvents(farm.client as unknown as RunClient, runId));
    assert.match(logs.get("gate/one") ?? "", /hello from one/);
    assert.match(logs.get("gate/two") ?? "", /hello from two/);
  });

  it("a kill -9 of the server between the spawn and the children's ends still tells the parent of each end once", async () => {
    // A sleep no other process has, so the test sees when the children's commands are over.
    const marker = `3.${100 + Math.floor(Math.random() * 800)}`;
    const { runId, stageId } = await fanoutRun([
      { key: "a", commands: [`sleep ${marker}`, 'echo "done=a" >> "$DOCKYARD_OUTPUT"'], agentId: ids.alpha! },
      { key: "b", commands: [`sleep ${marker}`, 'echo "done=b" >> "$DOCKYARD_OUTPUT"'], agentId: ids.beta! },
    ]);
    await waitFor(
      async () => (await kids(runId)).every((k) => k.state === "running") && (await kids(runId)).length === 2,
      {
        message: "both children running",
        timeoutMs: 30_000,
      },
    );
    await farm.killServer(0);
    // The children end while no server runs (their agents keep the ends for the next server).
    const sleeping = () => {
      try {
        return (
          execFileSync("pgrep", ["-f", `sleep ${marker}`])
            .toString()
            .trim() !== ""
        );
      } catch {
        return false; // pgrep exits 1 when nothing matches
      }
    };
    await waitFor(() => !sleeping(), {
      timeoutMs: 30_000,
      message: "the children's commands to end while the server is down",
    });
    assert.equal((await stage(stageId)).state, "running");
    await farm.startServer(0);
    await waitFor(async () => (await stage(stageId)).state === "succeeded", {
      message: "the parent to end after the restart",
      timeoutMs: 60_000,
    });
    assert.deepEqual((await told(runId)).sort(), ["a", "b"], "each end told exactly once");
    assert.equal(
      (await stage(stageId)).outputs.values.summary,
      fanoutSummary({ a: { state: "succeeded" }, b: { state: "succeeded" } } as never),
    );
    assert.deepEqual(
      (await kids(runId)).map((k) => [k.name, k.agent]),
      [
        ["gate/a", "alpha"],
        ["gate/b", "beta"],
      ],
    );
    assert.equal(await runState(runId), "succeeded");
  });

  it("a run cancel stops the children's processes", async () => {
    const marker = `${60 + Math.floor(Math.random() * 1000)}.25`;
    const { runId, stageId } = await fanoutRun([
      { key: "x", commands: [`sleep ${marker}`] },
      { key: "y", commands: [`sleep ${marker}`], agentId: ids.gamma! },
    ]);
    const sleeping = () => {
      try {
        return execFileSync("pgrep", ["-f", `sleep ${marker}`])
          .toString()
          .trim()
          .split("\n")
          .filter(Boolean).length;
      } catch {
        return 0;
      }
    };
    await waitFor(() => sleeping() === 2, { message: "both children's processes running", timeoutMs: 30_000 });
    await farm.client.cancelRun({ runId });
    assert.equal((await stage(stageId)).state, "canceled");
    assert.deepEqual(
      (await kids(runId)).map((k) => k.state),
      ["canceled", "canceled"],
    );
    await waitFor(() => sleeping() === 0, { message: "the children's processes stopped", timeoutMs: 30_000 });
    assert.equal(await runState(runId), "canceled");
  });

  it("a child pinned to a lost agent ends failed with that reason, and the parent is told", async () => {
    const gamma = farm.agents.find((a) => a.name === "gamma")!;
    gamma.child.kill("SIGKILL");
    await waitFor(
      async () => (await farm.pg.query(`SELECT state FROM agents WHERE id = $1`, [ids.gamma])).rows[0].state === "lost",
      {
        message: "gamma declared lost",
        timeoutMs: 30_000,
      },
    );
    const { runId, stageId } = await fanoutRun([{ key: "z", commands: ["true"], agentId: ids.gamma! }]);
    await waitFor(async () => (await stage(stageId)).state === "succeeded", {
      message: "the parent to end",
      timeoutMs: 30_000,
    });
    assert.deepEqual(
      (await kids(runId)).map((k) => [k.name, k.state, k.reason]),
      [["gate/z", "failed", "pinned agent 'gamma' is lost"]],
    );
    assert.equal((await stage(stageId)).reason, "z=failed(pinned agent 'gamma' is lost)");
  });
});
