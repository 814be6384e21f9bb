// npm run bench -- approval
// How late approval deadlines fire on a real farm with the server's default beat (500 ms):
//  - deadline_p50_ms / deadline_p99_ms: from each approval's stored deadline to its stage's
//    end, over 60 approvals with 2-4 s deadlines (on_timeout: approve), submitted together;
//  - after_restart_s: a deadline that passed while the only server was stopped, from the
//    server's start call to the stage's end (overdue timers fire at start).
// Targets: deadline_p99_ms <= 1000, after_restart_s <= 2. Prints one JSON line last.
import { startFarm, submit, waitFor } from "@dockyard/test";
import { quantile, round } from "./lib/stats";

const APPROVALS = 60;
const farm = await startFarm({ env: { DOCKYARD_SCHEDULER_INTERVAL_MS: "500" } });
try {
  const yaml = (i: number, timeout: string) =>
    `name: bench-gate-${i}\nstages:\n  gate: { type: approval, approvers: [nobody], timeout: ${timeout}, on_timeout: approve }\n`;
  const runIds = await Promise.all(
    Array.from({ length: APPROVALS }, (_, i) => submit(farm.client, yaml(i, `${2000 + (i % 20) * 100}ms`))),
  );
  const lateness = async (runIds: string[]) =>
    (
      await farm.pg.query<{ late: number }>(
        `SELECT extract(epoch FROM s.finished_at - (a.server_state->>'deadline')::timestamptz) * 1000 AS late
         FROM stages s JOIN attempts a ON a.stage_id = s.id WHERE s.run_id = ANY($1) AND s.state = 'succeeded'`,
        [runIds],
      )
    ).rows.map((r) => Number(r.late));
  await waitFor(async () => (await lateness(runIds)).length === APPROVALS, {
    message: "every deadline",
    timeoutMs: 60_000,
    intervalMs: 200,
  });
  const late = await lateness(runIds);

  // One deadline passes while the server is stopped.
  const down = await submit(farm.client, yaml(APPROVALS, "1500ms"));
  await waitFor(async () => (await farm.pg.query(`SELECT 1 FROM attempts WHERE run_id = $1`, [down])).rowCount === 1, {
    message: "the gate to start",
  });
  await farm.stopServer();
  await new Promise((r) => setTimeout(r, 3000));
  const t0 = Date.now();
  await farm.startServer();
  const [ended] = await waitFor(
    async () =>
      (await lateness([down])).length === 1 &&
      (await farm.pg.query<{ at: Date }>(`SELECT finished_at AS at FROM stages WHERE run_id = $1`, [down])).rows,
    {
      message: "the overdue deadline",
      timeoutMs: 20_000,
    },
  );
  console.log(
    JSON.stringify({
      bench: "approval",
      approvals: late.length,
      deadline_p50_ms: round(quantile(late, 0.5)),
      deadline_p99_ms: round(quantile(late, 0.99)),
      deadline_max_ms: round(Math.max(...late)),
      after_restart_s: Math.round((ended!.at.getTime() - t0) / 10) / 100,
    }),
  );
} finally {
  await farm.stop();
}
process.exit(0);
