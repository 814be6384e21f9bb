// What a schedule stores from its pipeline without a database: the services its ui-test stages
// target (read by name, so any version of the kind counts) and the name rule.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { PipelineSpec } from "@dockyard/pipeline";
import { checkScheduleName, continuousServices } from "./schedule-service";

const pipelineOf = (stages: { type: string; spec: Record<string, unknown> }[]) =>
  ({ stages: stages.map((s, i) => ({ name: `s${i}`, ...s })) }) as unknown as PipelineSpec;

test("continuous services are the ui-test stages' `service`, once each, in file order", () => {
  const p = pipelineOf([
    { type: "ui-test", spec: { journey: "checkout", service: "web" } },
    { type: "command", spec: { service: "not-a-ui-test" } },
    { type: "ui-test", spec: { url: "https://example.test" } },
    { type: "ui-test", spec: { service: "api" } },
    { type: "ui-test", spec: { service: "web" } },
  ]);
  assert.deepEqual(continuousServices(p), ["web", "api"]);
  assert.deepEqual(continuousServices(pipelineOf([{ type: "command", spec: {} }])), []);
});

test("schedule names: 1-40 of A-Z a-z 0-9 . _ -, the refusal naming the name", () => {
  assert.equal(checkScheduleName("nightly.checkout_2-eu"), "nightly.checkout_2-eu");
  assert.throws(() => checkScheduleName(""), /invalid schedule name ''/);
  assert.throws(() => checkScheduleName("-dash"), /invalid schedule name '-dash'/);
  assert.throws(() => checkScheduleName("a".repeat(41)), /expected 1-40 of/);
  assert.throws(() => checkScheduleName("with space"), /'with space'/);
});
