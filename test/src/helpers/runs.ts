// Run helpers: submit, wait for the end, collect events.
import type { RunEvent, Run } from "@dockyard/proto";
import type { RunClient } from "./farm";
import { waitFor } from "./wait";

export async function submit(client: RunClient, yaml: string | Uint8Array): Promise<string> {
  const res = await client.submitRun(
    { pipelineYaml: typeof yaml === "string" ? Buffer.from(yaml) : yaml, source: "test:dockyard.yml" },
    { timeoutMs: 10_000 },
  );
  return res.run!.id;
}

const TERMINAL = new Set(["succeeded", "failed", "errored", "canceled"]);

export async function waitForRun(client: RunClient, runId: string, timeoutMs = 60_000): Promise<Run> {
  return waitFor(
    async () => {
      const { run } = await client.getRun({ runId });
      return run && TERMINAL.has(run.state) ? run : undefined;
    },
    { timeoutMs, intervalMs: 100, message: `run ${runId} to end` },
  );
}

/** All events of a run (history only). */
export async function runEvents(
  client: RunClient,
  runId: string,
  opts: { afterSeq?: bigint; follow?: boolean; stage?: string } = {},
): Promise<RunEvent[]> {
  const stream = client.watchRun({
    runId,
    afterSeq: opts.afterSeq ?? 0n,
    follow: opts.follow ?? false,
    stage: opts.stage ?? "",
  });
  const out: RunEvent[] = [];
  for await (const e of stream as AsyncIterable<RunEvent>) out.push(e);
  return out;
}

/** Concatenated log text per stage name, in seq order. */
export function logsByStage(events: RunEvent[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of events) {
    if (e.body.case !== "log") continue;
    const prev = out.get(e.body.value.stageName) ?? "";
    out.set(e.body.value.stageName, prev + Buffer.from(e.body.value.data).toString());
  }
  return out;
}

/** Wait until an attempt of the run is running (and has persisted `minLogSeq` chunks); returns its id. */
export async function runningAttempt(
  farm: { pg: import("pg").Pool },
  runId: string,
  opts: { minLogSeq?: number; timeoutMs?: number } = {},
): Promise<string> {
  return waitFor(
    async () => {
      const r = await farm.pg.query<{ id: string }>(
        "SELECT id FROM attempts WHERE run_id = $1 AND state = 'running' AND log_seq >= $2",
        [runId, opts.minLogSeq ?? 0],
      );
      return r.rows[0]?.id;
    },
    { timeoutMs: opts.timeoutMs ?? 30_000, message: `an attempt of run ${runId} running` },
  );
}
