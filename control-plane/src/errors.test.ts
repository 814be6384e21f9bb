import { test } from "node:test";
import assert from "node:assert/strict";
import { status } from "@grpc/grpc-js";
import pino from "pino";
import { InvalidStageGraphError, DockyardError as PipelineDockyardError } from "@dockyard/pipeline";
import { DockyardError, NotFoundError } from "./errors";
import { toServiceError } from "./transport/grpc/errors";

const silent = pino({ level: "silent" });

test("there is one DockyardError: the pipeline's errors are the control plane's too", () => {
  assert.equal(DockyardError, PipelineDockyardError);
  const graph = new InvalidStageGraphError("stages form a cycle: a -> b -> a", ["a", "b", "a"]);
  assert.ok(graph instanceof DockyardError);
  assert.ok(new NotFoundError("run", "x") instanceof PipelineDockyardError);
});

test("the gRPC edge maps a pipeline error by its code, like its own", () => {
  const graph = toServiceError(new InvalidStageGraphError("stages form a cycle: a -> b -> a", ["a", "b", "a"]), silent);
  assert.equal(graph.code, status.INVALID_ARGUMENT);
  assert.equal(graph.details, "stages form a cycle: a -> b -> a");
  assert.equal(toServiceError(new NotFoundError("run", "x"), silent).code, status.NOT_FOUND);
  // An error that is no DockyardError stays internal, its message unsaid (the control for the rows above).
  const other = toServiceError(new Error("secret detail"), silent);
  assert.equal(other.code, status.INTERNAL);
  assert.doesNotMatch(other.details ?? "", /secret detail/);
});
