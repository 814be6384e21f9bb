// Approvals across server processes: a decision sent to replica B reaches a stage replica
// A started (signals are rows, handled under the attempt's lock by whoever receives them),
// and a deadline survives kill -9: the replica holding the wait is killed, the deadline
// passes with no server up, and the stage ends within 2 s of the next server's start.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import {
  clientFor,
  deadlineOf,
  stageRow,
  startFarm,
  submit,
  userClient,
  waitFor,
  waitForStage,
  waitingReasonOf,
  REPO_ROOT,
  type Farm,
} from "../index";

/** A second server process on the farm's database, NATS prefix and data dir (same PKI); resolves its gRPC address. */
async function spawnReplica(farm: Farm): Promise<{ child: ChildProcess; grpc: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(REPO_ROOT, "test/src/bin/server.ts")], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      DATABASE_URL: farm.database.url,
      DOCKYARD_DATA_DIR: farm.dataDir,
      DOCKYARD_NATS_URL: farm.config.natsUrl,
      DOCKYARD_NATS_PREFIX: farm.prefix,
      DOCKYARD_GRPC_LISTEN: "127.0.0.1:0",
      DOCKYARD_HTTP_LISTEN: "127.0.0.1:0",
      DOCKYARD_API_TOKEN: farm.apiToken,
      DOCKYARD_SCHEDULER_INTERVAL_MS: "200",
      DOCKYARD_LOG_LEVEL: "info",
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let grpc = "";
  child.stdout!.on("data", (d: Buffer) => {
    const m = /"grpc":"([^"]+)"/.exec(d.toString());
    if (m) grpc = m[1]!;
  });
  await waitFor(() => grpc, { message: "the replica to start", timeoutMs: 30_000 });
  return { child, grpc };
}

describe("approvals across replicas and restarts", () => {
  let farm: Farm;
  let replica: { child: ChildProcess; grpc: string } | null = null;
  before(async () => {
    farm = await startFarm();
  });
  after(async () => {
    if (replica && replica.child.exitCode === null && replica.child.signalCode === null) replica.child.kill("SIGKILL");
    await farm?.stop();
  });

  it("a decision sent to replica B reaches the stage replica A started; it binds to that run only", async () => {
    const alice = await userClient(farm, "alice");
    const yaml = "name: rep-gate\nstages:\n  gate: { type: approval, approvers: [alice], timeout: 1h }\n";
    // Only A runs when the runs are submitted: A starts both stages.
    const runId = await submit(farm.client, yaml);
    const other = await submit(farm.client, yaml);
    await waitingReasonOf(farm, runId);
    await waitingReasonOf(farm, other);
    replica = await spawnReplica(farm);
    const viaB = clientFor(farm, alice.token, replica.grpc);
    try {
      const { run } = await viaB.decideApproval({ runId, stage: "gate", approve: true, comment: "from B" });
      assert.equal(run!.stages[0]!.state, "succeeded");
      assert.equal((await stageRow(farm, runId, "gate")).reason, "approved by alice via cli: from B");
      assert.equal((await stageRow(farm, other, "gate")).state, "running", "the other run still waits");
      const { rows } = await farm.pg.query(
        `SELECT by, via, comment, handled_at IS NOT NULL AS handled FROM server_signals WHERE run_id = $1`,
        [runId],
      );
      assert.deepEqual(rows, [{ by: "alice", via: "cli", comment: "from B", handled: true }]);
    } finally {
      viaB.close();
      alice.client.close();
    }
  });

  it("kill -9 of the server during the wait; the deadline passes while none runs; it fires within 2 s of the restart", async () => {
    assert.ok(replica, "replica B runs");
    // B alone runs the wait: A stops, B starts the stage.
    await farm.stopServer();
    const runId = await submit(
      clientFor(farm, farm.apiToken, replica.grpc),
      "name: kill-gate\nstages:\n  gate: { type: approval, approvers: [alice], timeout: 4s }\n",
    );
    await waitingReasonOf(farm, runId);
    const deadline = await deadlineOf(farm, runId);
    const killed = new Promise((r) => replica!.child.once("exit", r));
    replica.child.kill("SIGKILL");
    await killed;
    // No server runs: the deadline passes and nothing moves the stage (a server would have within 1 s).
    await waitFor(() => Date.now() > deadline + 1500, {
      message: "the deadline to pass with no server",
      timeoutMs: 10_000,
    });
    assert.equal((await stageRow(farm, runId, "gate")).state, "running");
    const t0 = Date.now();
    await farm.startServer();
    const gate = await waitForStage(farm, runId, "gate", "failed", 5000);
    const afterRestart = gate.finished_at!.getTime() - t0;
    assert.ok(afterRestart < 2000, `fired ${afterRestart} ms after the restart`);
    assert.match(gate.reason!, /^no decision by .* UTC: rejected \(on_timeout: reject\)$/);
    const { rows } = await farm.pg.query(`SELECT state FROM runs WHERE id = $1`, [runId]);
    assert.equal(rows[0].state, "failed");
  });
});
