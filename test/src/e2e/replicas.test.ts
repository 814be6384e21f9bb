// Two server processes against one Postgres and one NATS: every stage is
// dispatched exactly once, and both replicas take part.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { startFarm, submit, waitFor, waitForRun, REPO_ROOT, type Farm } from "../index";

describe("two server replicas", () => {
  let farm: Farm;
  let second: ChildProcess;
  let secondHttp = "";
  before(async () => {
    farm = await startFarm();
    second = spawn(process.execPath, ["--import", "tsx", path.join(REPO_ROOT, "test/src/bin/server.ts")], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        DATABASE_URL: farm.database.url,
        DOCKYARD_NATS_URL: farm.config.natsUrl,
        DOCKYARD_NATS_PREFIX: farm.prefix,
        DOCKYARD_GRPC_LISTEN: "127.0.0.1:0",
        DOCKYARD_HTTP_LISTEN: "127.0.0.1:0",
        DOCKYARD_API_TOKEN: farm.apiToken,
        DOCKYARD_SCHEDULER_INTERVAL_MS: "50",
        DOCKYARD_LOG_LEVEL: "info",
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    second.stdout!.on("data", (d: Buffer) => {
      const m = /"http":"(http:\/\/[^"]+)"/.exec(d.toString());
      if (m) secondHttp = m[1]!;
    });
    await waitFor(() => secondHttp, { message: "second server to start" });
    for (const name of ["rep-a", "rep-b"]) await farm.startAgent({ name, executor: "shell", capacity: 8 });
  });
  after(async () => {
    if (second && second.exitCode === null) {
      const exited = new Promise((r) => second.once("exit", r));
      second.kill("SIGTERM");
      await exited;
    }
    await farm?.stop();
  });

  it("dispatches each of 200 stages exactly once", async () => {
    const stages = Array.from(
      { length: 10 },
      (_, i) => `  s${i}: { executor: shell, command: "echo $DOCKYARD_STAGE" }`,
    ).join("\n");
    const runIds = await Promise.all(
      Array.from({ length: 20 }, (_, i) => submit(farm.client, `name: rep-${i}\nstages:\n${stages}\n`)),
    );
    for (const runId of runIds) {
      const run = await waitForRun(farm.client, runId, 120_000);
      assert.equal(
        run.state,
        "succeeded",
        run.stages
          .filter((s) => s.state !== "succeeded")
          .map((s) => `${s.name}=${s.state}: ${s.reason}`)
          .join("; "),
      );
    }
    // No stage was dispatched twice: one succeeded attempt per stage, and any
    // extra attempt is a retry after a loss (a slow machine), never a duplicate.
    const { rows } = await farm.pg.query<{ succeeded: number; stages: number; others: string[] }>(`
      SELECT count(*) FILTER (WHERE state = 'succeeded')::int AS succeeded, count(DISTINCT stage_id)::int AS stages,
             coalesce(array_agg(state || ': ' || reason) FILTER (WHERE state <> 'succeeded'), '{}') AS others
      FROM attempts`);
    assert.equal(rows[0]!.stages, 200);
    assert.equal(rows[0]!.succeeded, 200);
    for (const other of rows[0]!.others) assert.match(other, /^lost: /);
    const dispatched = async (url: string) => {
      const text = await (await fetch(`${url}/metrics`)).text();
      return Number(/^dockyard_dispatch_latency_seconds_count (\d+)/m.exec(text)?.[1] ?? 0);
    };
    const [one, two] = [await dispatched(farm.server.httpUrl), await dispatched(secondHttp)];
    assert.equal(one + two, 200 + rows[0]!.others.length, `dispatches: ${one} + ${two}`);
    assert.ok(two > 0, "the second replica dispatched some stages");
  });
});
