// One disruption while marked shell stages run, observed the way the operator did: a run
// of `stages` stages (each `steps` timed steps, see marker-lines.ts) pinned to role=sh,
// the copy sampler on from submission to the run's end, and the disruption applied once
// every stage executes. Shared by the partition tests and `npm run bench -- fences`.
// Docker stages (busybox) write no marker files (the host's /tmp is not theirs): the
// sampler sees their containers by label, and their executions report stays empty.
import { rmSync } from "node:fs";
import path from "node:path";
import type Docker from "dockerode";
import type { OutageFarm } from "./outage-farm";
import { CopySampler, type SamplerReport } from "./sampler";
import { executionReport, readMarkedLines, timedSteps, type ExecutionReport, type MarkedLine } from "./marker-lines";
import { waitFor } from "./wait";
import { tempDir } from "@dockyard/testkit";

export interface CopyScenarioOptions {
  stages: string[];
  steps: number;
  stepMs: number;
  /** Called once every stage has executed a line: start the agent the retries go to, say. */
  whenRunning?: (runId: string) => Promise<void>;
  /** The disruption (it returns when it is over). */
  disrupt: (runId: string) => Promise<void>;
  /** Deadline for the run to end after the disruption. */
  endTimeoutMs?: number;
  /** Docker stages (and sampling of containers on these engines) instead of shell stages. */
  docker?: Docker | readonly Docker[];
}

export interface CopyScenarioResult {
  runId: string;
  state: string;
  /** Attempts in order: id, stage, number, state, reason, agent name. */
  attempts: { id: string; stage: string; number: number; state: string; reason: string | null; agent: string }[];
  /** Attempts beyond one per stage. */
  reruns: number;
  sampler: SamplerReport;
  lines: Record<string, MarkedLine[]>;
  executions: ExecutionReport;
}

const ENDED = ["succeeded", "failed", "errored", "canceled"];

/** Submit the run, disrupt it while every stage executes, wait for its end and report. */
export async function runCopyScenario(farm: OutageFarm, opts: CopyScenarioOptions): Promise<CopyScenarioResult> {
  const markDir = tempDir("marks");
  let sampler: CopySampler | null = null;
  try {
    const yaml = [
      "name: copies",
      `env: { MARK: "${markDir}" }`,
      "stages:",
      ...opts.stages.map((s) =>
        opts.docker
          ? `  ${s}: { image: dockyard/busybox:1, agent: { role: sh }, command: '${dockerSteps(opts.steps, opts.stepMs)}' }`
          : `  ${s}: { executor: shell, agent: { role: sh }, command: '${timedSteps(opts.steps, opts.stepMs)}' }`,
      ),
    ].join("\n");
    const res = await farm.client.submitRun(
      { pipelineYaml: Buffer.from(yaml), source: "test:copies.yml" },
      { timeoutMs: 10_000 },
    );
    const runId = res.run!.id;
    sampler = new CopySampler(runId, opts.docker ?? null).start();
    await waitFor(
      async () =>
        (
          await farm.pg.query(
            "SELECT count(*)::int AS n FROM attempts WHERE run_id = $1 AND state = 'running' AND log_seq >= 1",
            [runId],
          )
        ).rows[0].n === opts.stages.length,
      { message: "every stage executing", timeoutMs: 60_000 },
    );
    await opts.whenRunning?.(runId);
    await opts.disrupt(runId);
    const state = await waitFor(
      async () => {
        const s = (await farm.pg.query<{ state: string }>("SELECT state FROM runs WHERE id = $1", [runId])).rows[0]
          ?.state;
        return s && ENDED.includes(s) ? s : undefined;
      },
      { message: `run ${runId} to end`, timeoutMs: opts.endTimeoutMs ?? 120_000, intervalMs: 250 },
    );
    const report = sampler.stop();
    const attempts = (
      await farm.pg.query<CopyScenarioResult["attempts"][number]>(
        `SELECT a.id, s.name AS stage, a.number, a.state, a.reason, g.name AS agent FROM attempts a
         JOIN stages s ON s.id = a.stage_id JOIN agents g ON g.id = a.agent_id WHERE a.run_id = $1 ORDER BY s.name, a.number`,
        [runId],
      )
    ).rows;
    const lines = readMarkedLines(markDir);
    return {
      runId,
      state,
      attempts,
      reruns: attempts.length - new Set(attempts.map((a) => a.stage)).size,
      sampler: report,
      lines,
      executions: executionReport(lines, opts.steps),
    };
  } finally {
    sampler?.stop();
    rmSync(markDir, { recursive: true, force: true });
  }
}

/** `steps` numbered lines, one every `stepMs`, on stdout only. */
function dockerSteps(steps: number, stepMs: number): string {
  return `for i in $(seq 1 ${steps}); do echo "step $i"; sleep ${(stepMs / 1000).toFixed(2)}; done`;
}
