// One outage, end to end, shared by the outage tests and `npm run bench -- outage`:
// a pipeline with a long `seq 1 20000` shell stage, a docker stage and a stage that
// needs both; break one component while the first two run, bring it back, and
// check what the database says: each stage ran exactly once, the run succeeded,
// and the stored log is exactly 1..20000.
import { setTimeout as outageLasts } from "node:timers/promises";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { OutageFarm } from "./outage-farm";
import { waitFor } from "./wait";

export type Component = "server" | "nats" | "postgres";

export const OUTAGE_PIPELINE = `
name: outage
stages:
  count:
    executor: shell
    agent: { role: sh }
    # 20,000 numbered lines over about 8 s, so the outage cuts through the output.
    command: seq 1 20000 | while read i; do echo $i; case $i in *000) sleep 0.4;; esac; done
  boxed:
    image: dockyard/busybox:1
    command: sleep 6; echo boxed-done
  joined:
    executor: shell
    agent: { role: sh }
    needs: [count, boxed]
    command: echo joined
`;

export const EXPECTED_COUNT_LOG = Array.from({ length: 20000 }, (_, i) => `${i + 1}\n`).join("");

export interface OutageResult {
  runId: string;
  state: string;
  /** Stage name -> attempts (state, reason). */
  attempts: Record<string, { state: string; reason: string | null }[]>;
  /** Attempts beyond one per stage. */
  doubleRuns: number;
  /** Lines of 1..20000 missing from (or extra in) the stored log of `count`. */
  lostLines: number;
  /** From the component being back (answering) to the run's next event. */
  recoveryMs: number;
  /** The stored log of `count` is exactly 1..20000, in order. */
  logExact: boolean;
}

/** A farm with one shell agent (role=sh) and one docker agent. */
export async function outageFarm(replicas = 1): Promise<OutageFarm> {
  const farm = new OutageFarm({ replicas });
  await farm.start();
  farm.spawnAgent("sh", { executor: "shell", labels: { role: "sh" } });
  farm.spawnAgent("box", { executor: "docker", labels: { role: "box" } });
  await farm.waitAgentsOnline(2);
  return farm;
}

export async function breakComponent(farm: OutageFarm, c: Component): Promise<void> {
  if (c === "server") await farm.killServer(0);
  else if (c === "nats") await farm.killNats();
  else await farm.databaseOff();
}

export async function restoreComponent(farm: OutageFarm, c: Component): Promise<void> {
  if (c === "server") await farm.startServer(0);
  else if (c === "nats") await farm.startNats();
  else await farm.databaseOn();
}

/** Submit the pipeline, break `component` for `outageMs` while it runs, and report what happened. */
export async function runOutage(farm: OutageFarm, component: Component, outageMs: number): Promise<OutageResult> {
  const res = await farm.client.submitRun(
    { pipelineYaml: Buffer.from(OUTAGE_PIPELINE), source: "test:outage.yml" },
    { timeoutMs: 10_000 },
  );
  const runId = res.run!.id;
  await waitFor(
    async () =>
      (
        await farm.pg.query(
          `SELECT count(*)::int AS n FROM attempts a JOIN stages s ON s.id = a.stage_id
     WHERE a.run_id = $1 AND a.state = 'running' AND (s.name = 'boxed' OR a.log_seq >= 1)`,
          [runId],
        )
      ).rows[0].n === 2,
    { message: "count and boxed running", timeoutMs: 60_000 },
  );
  await breakComponent(farm, component);
  await outageLasts(outageMs);
  await restoreComponent(farm, component);
  const backAt = Date.now();
  const seqAtRestore = await lastSeq(farm, runId);
  // Moving again: the run gets an event after the component is back (or had already ended).
  const { recoveryMs } = await waitFor(
    async () => {
      const seq = await lastSeq(farm, runId);
      const moved = seq !== null && (seq > (seqAtRestore ?? 0) || (await runState(farm, runId)) === "succeeded");
      return moved ? { recoveryMs: Date.now() - backAt } : false;
    },
    { message: `run ${runId} moving again after the ${component} came back`, timeoutMs: 120_000, intervalMs: 20 },
  );
  const state = await waitFor(
    async () => {
      const s = await runState(farm, runId);
      return s && ["succeeded", "failed", "errored", "canceled"].includes(s) ? s : undefined;
    },
    { message: `run ${runId} to end`, timeoutMs: 180_000 },
  );
  const rows = (
    await farm.pg.query<{ name: string; state: string; reason: string | null }>(
      "SELECT s.name, a.state, a.reason FROM attempts a JOIN stages s ON s.id = a.stage_id WHERE a.run_id = $1 ORDER BY s.position, a.number",
      [runId],
    )
  ).rows;
  const attempts: OutageResult["attempts"] = {};
  for (const r of rows) (attempts[r.name] ??= []).push({ state: r.state, reason: r.reason });
  const log =
    (
      await farm.pg.query<{ text: string | null }>(
        `SELECT string_agg(convert_from(e.data, 'UTF8'), '' ORDER BY e.seq) AS text FROM run_events e JOIN stages s ON s.id = e.stage_id
     WHERE e.run_id = $1 AND e.kind = 'log' AND s.name = 'count'`,
        [runId],
      )
    ).rows[0]?.text ?? "";
  return {
    runId,
    state,
    attempts,
    recoveryMs,
    doubleRuns: Object.values(attempts).reduce((n, a) => n + Math.max(0, a.length - 1), 0),
    lostLines: lineDifference(log, EXPECTED_COUNT_LOG),
    logExact: log === EXPECTED_COUNT_LOG,
  };
}

async function lastSeq(farm: OutageFarm, runId: string): Promise<number | null> {
  try {
    return Number(
      (await farm.pg.query("SELECT last_event_seq FROM runs WHERE id = $1", [runId])).rows[0]?.last_event_seq ?? 0,
    );
  } catch {
    return null; // the database is the part that is down
  }
}

async function runState(farm: OutageFarm, runId: string): Promise<string | null> {
  try {
    return (
      (await farm.pg.query<{ state: string }>("SELECT state FROM runs WHERE id = $1", [runId])).rows[0]?.state ?? null
    );
  } catch {
    return null;
  }
}

/** Lines missing from `actual` plus lines it has that `expected` does not (both newline-separated). */
export function lineDifference(actual: string, expected: string): number {
  const want = new Map<string, number>();
  for (const l of expected.split("\n")) want.set(l, (want.get(l) ?? 0) + 1);
  let extra = 0;
  for (const l of actual.split("\n")) {
    const n = want.get(l) ?? 0;
    if (n > 0) want.set(l, n - 1);
    else extra++;
  }
  return [...want.values()].reduce((a, b) => a + b, 0) + extra;
}

/**
 * The suite every component's outage test runs: three farms at once, down for 5 s,
 * 30 s and 120 s (a lease is 8 s here): each stage ran once, the run succeeded,
 * and the stored log is exactly 1..20000.
 */
export function outageSuite(component: Component, title: string): void {
  describe(title, { concurrency: 3, timeout: 600_000 }, () => {
    for (const seconds of [5, 30, 120]) {
      it(`after ${seconds} s down: every stage ran once, the run succeeded, the log is exactly 1..20000`, async () => {
        const farm = await outageFarm();
        try {
          const r = await runOutage(farm, component, seconds * 1000);
          assert.equal(r.state, "succeeded", JSON.stringify(r.attempts));
          const once = [{ state: "succeeded", reason: "succeeded" }];
          assert.deepEqual(r.attempts, { count: once, boxed: once, joined: once });
          assert.equal(r.doubleRuns, 0);
          assert.equal(r.lostLines, 0);
          assert.ok(r.logExact, "the stored log is 1..20000 in order");
        } finally {
          await farm.stop();
        }
      });
    }
  });
}
