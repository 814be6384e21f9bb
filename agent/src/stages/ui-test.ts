// `ui-test`: a browser journey run in a child process (ui-test/run-journey.ts; its header
// says how it is isolated), retried `retries` times when it fails, reported as a summary table,
// outputs and dockyard_synthetic_* metrics pushed to DOCKYARD_PUSHGATEWAY_URL. A failed
// journey fails the stage with the step and its error; its screenshot is stored on the server
// as the attempt's artifact (kept on the agent when that fails).
import { existsSync } from "node:fs";
import { lstat, writeFile } from "node:fs/promises";
import path from "node:path";
import type { UiTestStage } from "@dockyard/proto";
import type { AgentStage, StageTools } from "./kind";
import { taskHandle, type StageLog } from "./task-handle";
import { ExecutorError } from "../executor/errors";
import { ArtifactError } from "./artifacts";
import { CHROMIUM, type JourneyResult, type JourneyStep } from "../ui-test/protocol";
import { JourneyError, runJourneyChild } from "../ui-test/run-journey";
import {
  failureReason,
  outputsOf,
  summaryTable,
  vitalsOf,
  withThisRun,
  type JourneyOutcome,
} from "../ui-test/journey-report";
import { pushJourneyMetrics } from "../ui-test/journey-metrics";

const STEP_TIMEOUT_MS = 15_000;
/** One journey run's deadline when the stage has no timeout of its own. */
const JOURNEY_TIMEOUT_MS = 120_000;
const MAX_SCRIPT_BYTES = 1024 * 1024;
/** The failed page's screenshot, as an artifact of the attempt. */
export const SCREENSHOT = "failure.png";

export const uiTest: AgentStage = {
  type: "uiTest",
  capabilities: () => (existsSync(CHROMIUM) ? ["browser"] : []),
  async start(a, _spec, tools, signal) {
    const kind = a.spec?.kind;
    if (kind?.case !== "uiTest") throw new ExecutorError("start_failed", "not a ui-test stage");
    const t = kind.value;
    const stageTimeout = Number(a.spec?.timeoutMs ?? 0n);
    const journeyTimeoutMs =
      stageTimeout > 0 ? Math.max(5000, Math.floor(stageTimeout / (t.retries + 1))) : JOURNEY_TIMEOUT_MS;
    return taskHandle(async (log) => {
      const scriptFile = t.script ? await scriptPath(a, t.script, tools, signal) : null;
      const runs = t.retries + 1;
      log.line(`dockyard: journey ${t.journey}: at most ${runs} ${runs === 1 ? "run" : "runs"} against ${t.baseUrl}`);
      // The retries run in the same child and browser (a fresh context each): no second browser start.
      const result = await runJourney(t, scriptFile, journeyTimeoutMs, runs, signal, log);
      const all = [...result.earlier, result];
      all.forEach((r, i) =>
        log.line(
          r === result && result.ok
            ? `dockyard: run ${i + 1}: passed in ${Math.round(r.durationMs)} ms`
            : `dockyard: run ${i + 1}: failed at step '${r.failedStep}': ${r.error}`,
        ),
      );
      const attempts = all.length;
      // Canceled or timed out: the runner reports why; a journey cut short is no result to count.
      if (signal.aborted) return { exitCode: 1, oomKilled: false };
      const outcome: JourneyOutcome = { result, attempts, endedMs: Date.now() };
      for (const line of summaryTable(t.journey, outcome)) log.line(line);
      if (!result.ok && result.screenshot) await keepScreenshot(tools, a, result.screenshot, log);
      const history = {
        recent: t.history?.recent ?? [],
        checksPassed: Number(t.history?.checksPassed ?? 0n),
        checksFailed: Number(t.history?.checksFailed ?? 0n),
        lastSuccessMs: Number(t.history?.lastSuccessMs ?? 0n),
      };
      const totals = withThisRun(history, result.ok, outcome.endedMs);
      await pushMetrics(tools, t, outcome, totals, log);
      const values = outputsOf(t, outcome, totals);
      return {
        exitCode: result.ok ? 0 : 1,
        oomKilled: false,
        outputs: { values },
        ...(!result.ok && { failure: failureReason(t.journey, result) }),
      };
    });
  },
  remove: async () => undefined,
};

async function runJourney(
  t: UiTestStage,
  scriptFile: string | null,
  journeyTimeoutMs: number,
  runs: number,
  signal: AbortSignal,
  log: StageLog,
): Promise<JourneyResult> {
  try {
    return await runJourneyChild({
      baseUrl: t.baseUrl,
      steps: t.steps.map((s) => stepOf(s)),
      scriptFile,
      stepTimeoutMs: Math.min(STEP_TIMEOUT_MS, journeyTimeoutMs),
      journeyTimeoutMs,
      runs,
      signal,
      onStderr: (line) => log.line(`journey: ${line}`),
    });
  } catch (err) {
    if (!(err instanceof JourneyError)) throw err;
    // The runner itself failed (killed at its deadline, crashed): a failed run like any other.
    return {
      ok: false,
      durationMs: 0,
      steps: [],
      failedStep: "runner",
      error: err.message,
      consoleErrors: [],
      measurements: [],
      screenshot: null,
      earlier: [],
    };
  }
}

function stepOf(s: UiTestStage["steps"][number]): JourneyStep {
  const action = s.action as JourneyStep["action"];
  if (!["goto", "click", "fill", "expect", "measure"].includes(action))
    throw new ExecutorError("start_failed", `step '${s.name}': unknown action '${s.action}'`);
  return {
    action,
    name: s.name,
    ...(s.target && { target: s.target }),
    ...(s.selector && { selector: s.selector }),
    ...(action === "fill" && { value: s.value }),
    ...(s.text && { text: s.text }),
    ...(s.status && { status: s.status }),
  };
}

/** The script's path in the run's source: inside the tree, a regular file, bounded. */
async function scriptPath(
  a: Parameters<AgentStage["start"]>[0],
  script: string,
  tools: StageTools,
  signal: AbortSignal,
): Promise<string> {
  const source = await tools.sources.get(a, signal);
  const file = path.resolve(source.dir, script);
  if (!file.startsWith(`${path.resolve(source.dir)}${path.sep}`))
    throw new ExecutorError("start_failed", `script '${script}' is outside the run's source`);
  const st = await lstat(file).catch(() => null);
  if (!st?.isFile()) throw new ExecutorError("start_failed", `script '${script}' is not a file in the run's source`);
  if (st.size > MAX_SCRIPT_BYTES)
    throw new ExecutorError("start_failed", `script '${script}' is larger than ${MAX_SCRIPT_BYTES} bytes`);
  return file;
}

/**
 * The failed page's screenshot, stored on the server as the attempt's artifact `failure.png`
 * (`dockyard artifacts RUN`). When the server refuses or cannot be reached, it is kept as a
 * file in the attempt's output directory instead, and the log says where.
 */
async function keepScreenshot(
  tools: StageTools,
  a: Parameters<AgentStage["start"]>[0],
  base64: string,
  log: StageLog,
): Promise<void> {
  const png = Buffer.from(base64, "base64");
  try {
    const id = await tools.artifacts.upload(a, SCREENSHOT, "image/png", png);
    log.line(`dockyard: screenshot of the failed page stored as artifact ${SCREENSHOT} (${id}, ${png.length} bytes)`);
    return;
  } catch (err) {
    if (!(err instanceof ArtifactError)) throw err;
    log.line(`dockyard: ${err.message}`);
  }
  const file = path.join(tools.outputs.create(a.attemptId), SCREENSHOT);
  await writeFile(file, png, { mode: 0o600 });
  log.line(`dockyard: screenshot of the failed page kept on this agent: ${file}`);
}

async function pushMetrics(
  tools: StageTools,
  t: UiTestStage,
  o: JourneyOutcome,
  totals: ReturnType<typeof withThisRun>,
  log: StageLog,
): Promise<void> {
  if (!tools.pushgatewayUrl) {
    log.line("dockyard: DOCKYARD_PUSHGATEWAY_URL is not set: no synthetic metrics pushed");
    return;
  }
  try {
    await pushJourneyMetrics(tools.pushgatewayUrl, {
      journey: t.journey,
      env: t.env,
      service: t.service,
      revision: t.serviceRevision,
      success: o.result.ok,
      durationMs: o.result.durationMs,
      steps: o.result.steps.map((s) => ({ name: s.name, durationMs: s.durationMs })),
      vitals: vitalsOf(o.result),
      endedMs: o.endedMs,
      thresholdMs: Number(t.thresholdMs),
      expectEveryMs: Number(t.expectEveryMs),
      ...totals,
    });
    log.line(`dockyard: metrics pushed to ${tools.pushgatewayUrl} (job dockyard_synthetic)`);
  } catch (err) {
    // The journey's result stands; a gateway that is down is the monitoring's problem, said in the log.
    log.line(`dockyard: pushing metrics to ${tools.pushgatewayUrl} failed: ${(err as Error).message}`);
  }
}
