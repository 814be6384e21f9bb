import { test } from "node:test";
import assert from "node:assert/strict";
import { create, RunEventSchema, StageSchema, TokenInfoSchema } from "@dockyard/proto";
import { runEventJson, stageJson, tokenJson } from "./json";

test("a queued stage and its event: what does not exist yet is null, never '' or 0", () => {
  const stage = stageJson(
    create(StageSchema, { id: "s1", name: "build", state: "queued", reason: "waiting for an agent" }),
  );
  assert.deepEqual(
    [stage.exitCode, stage.agentId, stage.startedAt, stage.finishedAt, stage.outputs, stage.reason],
    [null, null, null, null, null, "waiting for an agent"],
  );
  const ev = runEventJson(
    create(RunEventSchema, {
      seq: 3n,
      runId: "r1",
      atMs: 1000n,
      body: { case: "stage", value: { stageId: "s1", stageName: "build", state: "queued" } },
    }),
  );
  assert.deepEqual(ev, {
    seq: 3,
    runId: "r1",
    at: "1970-01-01T00:00:01.000Z",
    type: "stage",
    stage: {
      id: "s1",
      name: "build",
      state: "queued",
      attempt: null,
      agentId: null,
      agentName: null,
      exitCode: null,
      reason: null,
    },
  });
  // Positive control: values that exist come through, an exit code of 0 included.
  const done = runEventJson(
    create(RunEventSchema, {
      seq: 4n,
      runId: "r1",
      atMs: 2000n,
      body: {
        case: "stage",
        value: {
          stageId: "s1",
          stageName: "build",
          state: "succeeded",
          attempt: 1,
          agentId: "a1",
          agentName: "box",
          exitCode: 0,
        },
      },
    }),
  );
  assert.deepEqual(done.type === "stage" && [done.stage.attempt, done.stage.agentId, done.stage.exitCode], [
    1,
    "a1",
    0,
  ]);
});

test("an image that was not pushed has a null digest, and no wire-only fields leak into the JSON", () => {
  const stage = stageJson(
    create(StageSchema, {
      name: "build",
      state: "succeeded",
      outputs: {
        values: { image: "app:1" },
        image: { ref: "app:1", id: "sha256:abc", digest: "", sizeBytes: 10n, layers: 2 },
      },
    }),
  );
  assert.deepEqual(stage.outputs?.image, { ref: "app:1", id: "sha256:abc", digest: null, sizeBytes: 10, layers: 2 });
  assert.doesNotMatch(JSON.stringify(stage), /typeName/);
});

test("a token never used nor revoked", () => {
  const t = tokenJson(create(TokenInfoSchema, { id: "t1", kind: "join", description: "", createdAtMs: 5000n }));
  assert.deepEqual(t, {
    id: "t1",
    kind: "join",
    user: null,
    description: null,
    createdAt: "1970-01-01T00:00:05.000Z",
    lastUsedAt: null,
    revokedAt: null,
  });
});
