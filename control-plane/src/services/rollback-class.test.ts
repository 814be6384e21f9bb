// A rollback's class (dockyard_service_rollbacks_total's `reason`): from how its step ended and
// in which phase, or from what the request said; a request's class is checked by name.
import { test } from "node:test";
import assert from "node:assert/strict";
import { isRequestClass, stepFailureClass } from "./rollback-class";
import { checkRollback } from "./rollback";
import { labelsKey } from "../store/farm-counters";

test("a failed step's class: lost and timeout by its end state, else died in a watch and health in a roll", () => {
  assert.equal(stepFailureClass("roll", { state: "lost" }), "lost");
  assert.equal(stepFailureClass("watch", { state: "lost" }), "lost");
  assert.equal(stepFailureClass("roll", { state: "timeout" }), "timeout");
  assert.equal(stepFailureClass("watch", { state: "failed" }), "died");
  assert.equal(stepFailureClass("watch", { state: "errored" }), "died");
  assert.equal(stepFailureClass("roll", { state: "failed" }), "health");
  assert.equal(stepFailureClass("roll", { state: "errored" }), "health");
});

test("a request may say it came from a person or an alert, nothing else", () => {
  assert.ok(isRequestClass("requested") && isRequestClass("alert"));
  assert.ok(!isRequestClass("health") && !isRequestClass("") && !isRequestClass(undefined));
  const ok = { service: "web", reason: "", via: "http" as const };
  assert.doesNotThrow(() => checkRollback({ ...ok, reasonClass: "alert" }));
  assert.throws(
    () => checkRollback({ ...ok, reasonClass: "whim" as "alert" }),
    /reason class must be one of requested, alert, got 'whim'/,
  );
});

test("a counter's labels are one row whatever order they come in", () => {
  assert.equal(labelsKey({ service: "web", reason: "alert" }), labelsKey({ reason: "alert", service: "web" }));
  assert.equal(labelsKey({ service: "web", reason: "alert" }), '{"reason":"alert","service":"web"}');
  assert.equal(labelsKey({}), "{}");
});
