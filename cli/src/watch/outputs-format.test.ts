import { test } from "node:test";
import assert from "node:assert/strict";
import { create, StageSchema } from "@dockyard/proto";
import { formatOutputs } from "./outputs-format";
import { plainColors } from "./status-format";

test("outputs after a watched run: each stage's summary, as its kind wrote it on the server, aligned by name", () => {
  const stages = [
    create(StageSchema, {
      name: "image",
      outputs: {
        values: {},
        image: { ref: "app:3", sizeBytes: 2_960_000n, layers: 3 },
        summary: "image app:3  3.0 MB, 3 layers",
      },
    }),
    create(StageSchema, {
      name: "routes",
      outputs: { values: {}, summary: "tests 4 passed, 1 failed, 0 skipped, 0 errors (5)" },
    }),
    create(StageSchema, { name: "writes", outputs: { values: { env_id: "not a deploy" } } }),
    create(StageSchema, { name: "lint" }),
  ];
  assert.deepEqual(formatOutputs(stages, plainColors), [
    "outputs:",
    "  image   image app:3  3.0 MB, 3 layers",
    "  routes  tests 4 passed, 1 failed, 0 skipped, 0 errors (5)",
  ]);
  assert.deepEqual(formatOutputs(stages.slice(2), plainColors), [], "nothing for stages without a summary");
});
