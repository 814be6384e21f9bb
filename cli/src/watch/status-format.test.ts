import { test } from "node:test";
import assert from "node:assert/strict";
import { formatRunStatus, formatStageStatus, formatSummary, ttyColors } from "./status-format";

const stage = { stageName: "build", state: "running", attempt: 1, agentId: "agent-a", exitCode: 0, reason: "" };

test("stage status lines", () => {
  assert.equal(formatStageStatus("12:00:01", stage), "12:00:01 build  running  (attempt 1 on agent-a)");
  assert.equal(
    formatStageStatus("12:00:01", { ...stage, state: "assigned", attempt: 2, agentId: "" }),
    "12:00:01 build  assigned  (attempt 2)",
  );
  assert.equal(formatStageStatus("12:00:03", { ...stage, state: "succeeded" }), "12:00:03 build  succeeded  exit 0");
  assert.equal(
    formatStageStatus("12:00:03", { ...stage, state: "failed", exitCode: 2 }),
    "12:00:03 build  failed  exit 2",
  );
  assert.equal(
    formatStageStatus("12:00:03", { ...stage, state: "errored", reason: "agent lost" }),
    "12:00:03 build  errored  (agent lost)",
  );
  assert.equal(formatStageStatus("12:00:00", { ...stage, state: "queued" }), "12:00:00 build  queued");
  assert.equal(
    formatStageStatus("12:00:09", { ...stage, state: "lost", reason: "agent lost: no heartbeat" }),
    "12:00:09 build  lost  (attempt 1 on agent-a)  (agent lost: no heartbeat)",
  );
  assert.equal(
    formatStageStatus("12:00:09", {
      ...stage,
      state: "timeout",
      agentName: "big-box",
      reason: "stage exceeded its timeout",
    }),
    "12:00:09 build  timeout  (attempt 1 on big-box)  (stage exceeded its timeout)",
  );
  assert.equal(
    formatStageStatus("12:00:12", { ...stage, state: "succeeded", attempt: 2 }),
    "12:00:12 build  succeeded  exit 0  (attempt 2)",
  );
  // A stage failed by its timeout has no exit code: none is shown (not "exit 0").
  assert.equal(
    formatStageStatus("12:00:14", {
      ...stage,
      state: "failed",
      exitCode: undefined,
      reason: "stage exceeded its timeout",
    }),
    "12:00:14 build  failed  (stage exceeded its timeout)",
  );
});

test("run lines and summary", () => {
  assert.equal(formatRunStatus("12:00:00", "running"), "12:00:00 run  running");
  assert.equal(formatSummary("r-1", "succeeded", 4200), "run r-1 succeeded in 4.2s");
  assert.equal(formatSummary("r-1", "failed", 192_000), "run r-1 failed in 3m12s");
  assert.equal(formatSummary("r-1", "canceled", null), "run r-1 canceled");
});

test("colours wrap the words but keep the text", () => {
  const line = formatSummary("r-1", "failed", 1000, ttyColors);
  assert.match(line, /\x1b\[31mfailed\x1b\[39m/);
  assert.equal(line.replace(/\x1b\[\d+m/g, ""), "run r-1 failed in 1.0s");
});
