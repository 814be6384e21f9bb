// npm run bench -- rollout
// A service (bench-web) of 3 replicas on 2 hosts (the e2e ServiceFarm: a server process, two agents on two
// Docker engines, each host's HAProxy on 127.0.0.1 / 127.0.0.2) under a LoadClient on each
// host's address from its creation to the end, through:
//  - update_s: an update to revision 2 (watch window 60 s), from SubmitRun to its stage's
//    reason saying "watching revision 2" (read, both hosts rolled, the watch steps spawned);
//  - rollback_switch_ms: POST /api/v1/services/bench-web/rollback inside that window, from the
//    request to the last answer of revision 2 on either address (every answer after it is
//    revision 1; the stage has ended and both hosts are checked before it is read);
//  - manual_rollback_s: after an update to revision 3 (watch window 0 s) succeeded, the gRPC
//    RollbackService (what `dockyard services rollback bench-web` calls), from the request to both
//    the rollback run's stage succeeded (its finished_at) and the last answer of revision 3.
// The load keeps going until >= 10,000 requests were made; failed_requests counts non-2xx
// answers and connection errors over all of it. Targets: failed_requests 0,
// rollback_switch_ms <= 2000, manual_rollback_s <= 30. Prints one JSON line last (a line of
// phases, rate and bodies before it; BENCH_TRACE=1: each step's timing and log on stderr).
import { bodiesOver, HOSTS, releasePipeline, runEvents, serviceFile, ServiceFarm, waitFor } from "@dockyard/test";
import { LoadClient } from "@dockyard/testkit";
import { round } from "./lib/stats";

/**
 * Not "web": the e2e service tests run on the same two engines with service "web", and a
 * replica or network of the same name would be another farm's (its agent would even reuse it).
 */
const SERVICE = "bench-web";
const MIN_REQUESTS = 10_000;
const MIN_RATE = 100;

const sf = new ServiceFarm();
const clients: LoadClient[] = [];
const phases: Record<string, number> = {};
const lap = (name: string, t0: number) => (phases[name] = Date.now() - t0);
const body = (rev: number) => `bench rev${rev}`;
const files = (rev: number, watchWindow: string) => ({
  "services/web.yml": serviceFile({
    name: SERVICE,
    proxyPort: sf.proxyPort,
    env: { GREETING: "bench", REV: String(rev) },
    watchWindow,
  }),
});
const requests = () => clients.reduce((n, c) => n + c.ok + c.failures.length, 0);
/** The last answer of `b` on any address (epoch ms), or -Infinity. */
const lastSeen = (b: string) => Math.max(...clients.map((c) => c.lastSeen.get(b) ?? -Infinity));
const stageRow = async (runId: string, name: string) =>
  (
    await sf.farm.pg.query<{ state: string; reason: string | null; finished_at: Date | null }>(
      "SELECT state, reason, finished_at FROM stages WHERE run_id = $1 AND name = $2",
      [runId, name],
    )
  ).rows[0];
const stageEnd = (runId: string, name: string, timeoutMs = 120_000) =>
  waitFor(
    async () => {
      const s = await stageRow(runId, name);
      return s && !["queued", "assigned", "running"].includes(s.state) ? s : undefined;
    },
    { timeoutMs, intervalMs: 50, message: `stage ${name} of run ${runId} to end` },
  );
const expectOnly = async (rev: number) => {
  const seen = [...(await bodiesOver(sf.addresses(), 6))];
  if (seen.length !== 1 || seen[0] !== body(rev))
    throw new Error(`expected every host on ${body(rev)}, got ${JSON.stringify(seen)}`);
};

/** BENCH_TRACE=1: each stage and step of `runId` (queued, assigned, started, finished) in ms from `t0`. */
async function trace(runId: string, t0: number): Promise<void> {
  const rows = await sf.farm.pg.query<Record<string, Date | string | null>>(
    `SELECT s.name, s.state, s.reason, s.queued_at, a.assigned_at, a.started_at, s.finished_at
     FROM stages s LEFT JOIN attempts a ON a.stage_id = s.id WHERE s.run_id = $1 ORDER BY s.queued_at`,
    [runId],
  );
  const ms = (d: unknown) => (d instanceof Date ? d.getTime() - t0 : null);
  for (const r of rows.rows)
    console.error(
      `trace ${String(r.name).padEnd(28)} ${String(r.state).padEnd(9)} queued ${ms(r.queued_at)} assigned ${ms(r.assigned_at)} started ${ms(r.started_at)} finished ${ms(r.finished_at)} ${r.reason ?? ""}`,
    );
  for (const e of await runEvents(sf.farm.client, runId))
    if (e.body.case === "log" && /rollback/.test(e.body.value.stageName))
      for (const line of Buffer.from(e.body.value.data).toString().split("\n").filter(Boolean))
        console.error(`trace ${Number(e.atMs) - t0} ${e.body.value.stageName}: ${line}`);
  for (const c of clients)
    console.error(
      `trace client: ${[...c.lastSeen].map(([b, at]) => `${b} last ${at - t0}, first ${c.firstSeen.get(b)! - t0}`).join("; ")}`,
    );
}

let loadStart = 0;
let loadEnd = 0;
try {
  let t = Date.now();
  await sf.start();
  lap("farm_start_ms", t);

  // 1. Revision 1, then the load on both hosts for the rest of the bench.
  t = Date.now();
  const create = await sf.release(files(1, "0s"), releasePipeline(SERVICE));
  const created = await stageEnd(create, "release");
  if (created.state !== "succeeded") throw new Error(`creating the service: ${created.state}: ${created.reason}`);
  lap("create_ms", t);
  await expectOnly(1);
  for (const a of sf.addresses()) clients.push(new LoadClient(`http://${a}/`, { loops: 2, intervalMs: 10 }));
  loadStart = Date.now();
  for (const c of clients) c.start();

  // 2. Revision 2 with a 60 s watch window: submit -> watching.
  const t2 = Date.now();
  const update = await sf.release(files(2, "60s"), releasePipeline(SERVICE));
  await waitFor(async () => ((await stageRow(update, "release"))?.reason ?? "").startsWith("watching revision"), {
    timeoutMs: 120_000,
    intervalMs: 50,
    message: "the update to revision 2 to reach its watch window",
  });
  const updateMs = Date.now() - t2;
  await expectOnly(2);

  // 3. Inside the window: POST .../rollback switches back to the warm revision-1 replicas.
  const t3 = Date.now();
  const res = await fetch(`http://${sf.farm.servers[0]!.http}/api/v1/services/${SERVICE}/rollback`, {
    method: "POST",
    headers: { authorization: `Bearer ${sf.farm.apiToken}`, "content-type": "application/json" },
    body: JSON.stringify({ reason: "bench: switch back" }),
  });
  if (res.status !== 202) throw new Error(`POST rollback answered ${res.status}: ${await res.text()}`);
  phases.rollback_post_ms = Date.now() - t3;
  const switched = await stageEnd(update, "release", 60_000);
  phases.switch_stage_end_ms = switched.finished_at!.getTime() - t3;
  if (!/^rolled back to revision 1/.test(switched.reason ?? ""))
    throw new Error(`the switch ended ${switched.state}: ${switched.reason}`);
  await expectOnly(1);
  if (process.env.BENCH_TRACE) await trace(update, t3);
  const switchMs = Math.max(0, lastSeen(body(2)) - t3);

  // 4. Revision 3 (no watch window), then the manual rollback: a rollback run to revision 1.
  t = Date.now();
  const third = await sf.release(files(3, "0s"), releasePipeline(SERVICE));
  const thirdEnd = await stageEnd(third, "release");
  if (thirdEnd.state !== "succeeded")
    throw new Error(`the update to revision 3: ${thirdEnd.state}: ${thirdEnd.reason}`);
  lap("update3_ms", t);
  await expectOnly(3);
  const t4 = Date.now();
  const answer = await sf.farm.client.rollbackService(
    { name: SERVICE, revision: 0, reason: "bench: manual rollback" },
    { timeoutMs: 10_000 },
  );
  phases.rollback_call_ms = Date.now() - t4;
  if (answer.mode !== "run") throw new Error(`rollback answered mode ${answer.mode}, not a run`);
  const rolled = await stageEnd(answer.runId, "rollback");
  if (rolled.state !== "succeeded") throw new Error(`the rollback run: ${rolled.state}: ${rolled.reason}`);
  await expectOnly(1);
  if (process.env.BENCH_TRACE) await trace(answer.runId, t4);
  const manualMs = Math.max(rolled.finished_at!.getTime(), lastSeen(body(3))) - t4;
  phases.manual_stage_end_ms = rolled.finished_at!.getTime() - t4;
  phases.manual_last_rev3_ms = lastSeen(body(3)) - t4;

  // 5. The load runs on to its 10,000 requests.
  await waitFor(() => requests() >= MIN_REQUESTS, {
    timeoutMs: 600_000,
    intervalMs: 100,
    message: `${MIN_REQUESTS} requests`,
  });
  for (const c of clients) await c.stop();
  loadEnd = Date.now();
  const total = requests();
  const failures = clients.flatMap((c) => c.failures);
  const bodies: Record<string, number> = {};
  for (const c of clients) for (const [b, n] of c.bodies) bodies[b] = (bodies[b] ?? 0) + n;
  console.log(
    JSON.stringify({
      phases,
      load_s: round((loadEnd - loadStart) / 1000),
      requests_per_s: round(total / ((loadEnd - loadStart) / 1000)),
      bodies,
      failures: failures.slice(0, 10),
    }),
  );
  const rate = total / ((loadEnd - loadStart) / 1000);
  if (rate < MIN_RATE) console.error(`warning: the load made ${round(rate)} requests/s, under ${MIN_RATE}`);
  console.log(
    JSON.stringify({
      bench: "rollout",
      requests: total,
      failed_requests: failures.length,
      update_s: Math.round(updateMs / 10) / 100,
      rollback_switch_ms: Math.round(switchMs),
      manual_rollback_s: Math.round(manualMs / 10) / 100,
    }),
  );
} finally {
  for (const c of clients) await c.stop().catch(() => undefined);
  await sf.stop();
}
process.exit(0);
