// Two server replicas, one Postgres, one NATS: one replica is killed with SIGKILL
// under 20 concurrent runs. Its agents move to the other within seconds, every run
// ends with the result its stages earned, no stage runs twice, and a watcher that
// was attached to the dead replica resumes on the other without a lost or repeated line.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { OutageFarm, REPO_ROOT, waitFor } from "../index";

const BIN = path.join(REPO_ROOT, "cli/bin/dockyard");
const STAGES = Array.from(
  { length: 5 },
  (_, i) => `  s${i}: { executor: shell, command: "for i in 1 2 3 4 5 6; do echo s${i}-$i; sleep 0.5; done" }`,
).join("\n");

describe("a replica killed under load", { timeout: 300_000 }, () => {
  const farm = new OutageFarm({ replicas: 2 });
  before(async () => {
    await farm.start();
    // One agent prefers each replica, so the dead one had agents, streams and placements.
    farm.spawnAgent("r0-first", { executor: "shell", capacity: 8, servers: [0, 1] });
    farm.spawnAgent("r1-first", { executor: "shell", capacity: 8, servers: [1, 0] });
    await farm.waitAgentsOnline(2);
  });
  after(async () => farm.stop());

  it("loses nothing and runs nothing twice; a watcher on the dead replica resumes on the other", async () => {
    const runIds: string[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await farm.client.submitRun(
        { pipelineYaml: Buffer.from(`name: load-${i}\nstages:\n${STAGES}\n`), source: "test" },
        { timeoutMs: 10_000 },
      );
      runIds.push(res.run!.id);
    }
    // A CLI watcher of the first run, attached to replica 1 first.
    const watchedRun = runIds[0]!;
    const servers = `${farm.servers[1]!.grpc},${farm.servers[0]!.grpc}`;
    let out = "";
    const watcher = spawn(BIN, ["watch", watchedRun], {
      cwd: os.tmpdir(),
      env: {
        ...process.env,
        DOCKYARD_SERVER: servers,
        DOCKYARD_TOKEN: farm.apiToken,
        DOCKYARD_CA_FILE: path.join(farm.dataDir, "pki", "ca.crt"),
        NO_COLOR: "1",
      },
    });
    let err = "";
    watcher.stdout.on("data", (d: Buffer) => (out += d.toString()));
    watcher.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const watched = new Promise<number | null>((r) => watcher.on("close", (code) => r(code)));
    // Kill replica 1 once work is under way on both agents.
    await waitFor(
      async () =>
        (await farm.pg.query("SELECT count(DISTINCT agent_id)::int AS n FROM attempts WHERE state = 'running'")).rows[0]
          .n === 2,
      {
        message: "both agents busy",
        timeoutMs: 60_000,
      },
    );
    await waitFor(() => out.includes("s0-2"), { message: "the watcher printing", timeoutMs: 30_000 }).catch(
      (e: Error) => {
        throw new Error(`${e.message}; watcher said: ${out}${err}`);
      },
    );
    await farm.killServer(1);

    for (const runId of runIds) {
      const state = await waitFor(
        async () => {
          const s = (await farm.pg.query<{ state: string }>("SELECT state FROM runs WHERE id = $1", [runId])).rows[0]
            ?.state;
          return s && ["succeeded", "failed", "errored", "canceled"].includes(s) ? s : undefined;
        },
        { message: `run ${runId} to end`, timeoutMs: 180_000 },
      );
      assert.equal(state, "succeeded", `run ${runId}`);
    }
    const { rows } = await farm.pg.query<{ stages: number; attempts: number; succeeded: number }>(
      "SELECT count(DISTINCT stage_id)::int AS stages, count(*)::int AS attempts, count(*) FILTER (WHERE state = 'succeeded')::int AS succeeded FROM attempts",
    );
    const others = (
      await farm.pg.query(
        "SELECT a.state, a.reason, g.name AS agent FROM attempts a JOIN agents g ON g.id = a.agent_id WHERE a.state <> 'succeeded'",
      )
    ).rows;
    assert.deepEqual(
      rows[0],
      { stages: 100, attempts: 100, succeeded: 100 },
      `each stage ran exactly once; other attempts: ${JSON.stringify(others)}`,
    );

    assert.equal(await watched, 0, out + err);
    for (let s = 0; s < 5; s++) {
      const lines = out
        .split("\n")
        .filter((l) => l.startsWith(`s${s} | `))
        .map((l) => l.slice(`s${s} | `.length));
      assert.deepEqual(
        lines,
        Array.from({ length: 6 }, (_, i) => `s${s}-${i + 1}`),
        `stage s${s} as the watcher saw it`,
      );
    }
  });
});
