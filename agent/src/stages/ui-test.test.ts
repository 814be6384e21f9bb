// The ui-test handler as the runner drives it (an Assignment in, a StageExit out) with real
// Chromium and a real Pushgateway: a journey that fails once then passes counts as passed and
// its metrics carry the history the server sent; a failing journey fails the stage naming its
// step, keeps its screenshot on the agent when it cannot be stored on the server, and keeps the
// last success time; a bad step is refused.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { AssignmentSchema, type UiTestStageSchema } from "@dockyard/proto";
import { startPushgateway, tempDir } from "@dockyard/testkit";
import type { StageTools } from "./kind";
import type { AttemptSpec } from "../executor/types";
import { uiTest } from "./ui-test";
import { OutputDirs } from "./output-dir";
import { AgentArtifacts } from "./artifacts";
import { startTestSite, type TestSite } from "../ui-test/test-site";

type Stage = MessageInitShape<typeof UiTestStageSchema>;

describe("the ui-test handler", { timeout: 180_000 }, () => {
  let site: TestSite;
  let gateway: { url: string; stop(): Promise<void> };
  let tools: StageTools;
  let n = 0;

  before(async () => {
    [site, gateway] = await Promise.all([startTestSite({ flakyFailures: 1 }), startPushgateway()]);
    const outputs = new OutputDirs(path.join(tempDir("ui-test-outputs"), "outputs"));
    // An agent with no server to store artifacts on (not registered): the screenshot stays on the agent.
    const artifacts = new AgentArtifacts(() => {
      throw new Error("the agent is not registered");
    });
    tools = { outputs, artifacts, pushgatewayUrl: gateway.url } as unknown as StageTools;
  });
  after(async () => {
    await Promise.all([site?.close(), gateway?.stop()]);
  });

  const runStage = async (stage: Stage) => {
    const a = create(AssignmentSchema, {
      attemptId: `00000000-0000-4000-8000-00000000000${++n}`,
      runId: "00000000-0000-4000-8000-000000000100",
      stageName: "journey",
      spec: { kind: { case: "uiTest", value: { env: "staging", baseUrl: site.url, ...stage } } },
    });
    const handle = await uiTest.start(a, {} as AttemptSpec, tools, new AbortController().signal);
    let log = "";
    for await (const chunk of handle.output) log += chunk.data.toString("utf8");
    return { exit: await handle.wait(), log, attemptId: a.attemptId };
  };
  const metrics = async () => (await fetch(`${gateway.url}/metrics`)).text();
  const sample = (text: string, series: string) => {
    const line = text.split("\n").find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };

  it("a journey that fails once and passes on its retry counts as passed; its metrics add to the history", async () => {
    const before = Date.now();
    const { exit, log } = await runStage({
      journey: "flaky",
      retries: 1,
      thresholdMs: 5000n,
      expectEveryMs: 60_000n,
      steps: [
        { action: "goto", name: "open", target: "/flaky" },
        { action: "expect", name: "ok", status: 200 },
      ],
      history: { recent: [false, true], checksPassed: 7n, checksFailed: 2n, lastSuccessMs: 1_000_000n },
    });
    assert.equal(exit.exitCode, 0, log);
    assert.equal(exit.failure, undefined);
    assert.equal(site.flakyVisits(), 2);
    assert.match(log, /run 1: failed at step 'ok': expected status 200, got 500/);
    assert.match(log, /run 2: passed in \d+ ms/);
    assert.match(log, /journey flaky: PASSED in \d+ ms \(2 runs\)/);
    assert.match(log, /  open +goto +ok +\d+ ms/);
    const v = exit.outputs!.values;
    assert.equal(v.success, "true");
    assert.equal(v.attempts, "2");
    assert.equal(v.failed_step, "");
    assert.equal(v.checks_passed, "8");
    assert.equal(v.checks_failed, "2");
    assert.ok(Number(v.last_success_at) >= before, "this run is the last success");
    assert.ok(Number(v.duration_ms) > 0);
    const m = await metrics();
    const l = '{env="staging",instance="",job="dockyard_synthetic",journey="flaky"}';
    const with_ = (extra: string) => `${l.slice(0, -1)},${extra}}`;
    assert.equal(sample(m, `dockyard_synthetic_journey_success${l}`), 1, m);
    assert.equal(sample(m, `dockyard_synthetic_checks_total${with_('result="passed"')}`), 8);
    assert.equal(sample(m, `dockyard_synthetic_checks_total${with_('result="failed"')}`), 2);
    // The window: this run passed, the previous two were failed and passed.
    assert.equal(sample(m, `dockyard_synthetic_journey_recent_failures${l}`), 1);
    assert.equal(sample(m, `dockyard_synthetic_journey_recent_runs${l}`), 3);
    assert.equal(sample(m, `dockyard_synthetic_journey_threshold_seconds${l}`), 5);
    assert.equal(sample(m, `dockyard_synthetic_journey_interval_seconds${l}`), 60);
    assert.ok(sample(m, `dockyard_synthetic_step_duration_seconds${with_('step="open"')}`)! > 0);
    assert.ok(sample(m, `dockyard_synthetic_web_vital_seconds${with_('vital="ttfb"')}`)! > 0);
    assert.equal(sample(m, `dockyard_synthetic_cumulative_layout_shift${l}`), 0);
    assert.ok(sample(m, `dockyard_synthetic_last_success_timestamp_seconds${l}`)! * 1000 >= before - 1000);
  });

  it("a failing journey fails the stage with its step and error, keeps its screenshot and the last success", async () => {
    const { exit, log, attemptId } = await runStage({
      journey: "broken",
      service: "webapp",
      serviceRevision: 4,
      retries: 0,
      steps: [
        { action: "goto", name: "home", target: "/" },
        { action: "expect", name: "banner", text: "Free shipping" },
      ],
      history: { recent: [false], checksPassed: 3n, checksFailed: 1n, lastSuccessMs: 1_700_000_000_000n },
    });
    assert.equal(exit.exitCode, 1);
    assert.equal(
      exit.failure,
      `journey broken failed at step 'banner': expected text "Free shipping" is not on the page (${site.url}/)`,
    );
    assert.match(log, /at most 1 run against/);
    assert.match(log, /journey broken: FAILED/);
    assert.match(log, /console error: cart service unavailable/);
    const v = exit.outputs!.values;
    assert.deepEqual(
      [v.success, v.failed_step, v.checks_failed, v.last_success_at],
      ["false", "banner", "2", "1700000000000"],
    );
    assert.match(log, /artifact 'failure\.png' was not stored: the agent is not registered/);
    assert.match(log, /screenshot of the failed page kept on this agent: \S+failure\.png/);
    const png = readFileSync(path.join(tools.outputs.pathOf(attemptId), "out", "failure.png"));
    assert.equal(png.subarray(1, 4).toString(), "PNG");
    const m = await metrics();
    const l = '{env="staging",instance="",job="dockyard_synthetic",journey="broken",revision="4",service="webapp"}';
    assert.equal(sample(m, `dockyard_synthetic_journey_success${l}`), 0, m);
    assert.equal(sample(m, `dockyard_synthetic_journey_recent_failures${l}`), 2, "this run and the previous one");
    assert.equal(sample(m, `dockyard_synthetic_journey_recent_runs${l}`), 2);
    assert.equal(sample(m, `dockyard_synthetic_last_success_timestamp_seconds${l}`), 1_700_000_000);
    // Positive control of the group: the passing journey's series are still there, untouched.
    assert.match(m, /dockyard_synthetic_journey_success\{[^}]*journey="flaky"[^}]*\} 1/);
  });

  it("refuses a step with an unknown action before any browser starts", async () => {
    await assert.rejects(
      runStage({ journey: "bad", steps: [{ action: "hover", name: "h", selector: "a" }] }),
      /step 'h': unknown action 'hover'/,
    );
    // Positive control: the same journey with a known action runs (and passes).
    const { exit } = await runStage({ journey: "good", steps: [{ action: "goto", name: "h", target: "/" }] });
    assert.equal(exit.exitCode, 0);
  });
});
