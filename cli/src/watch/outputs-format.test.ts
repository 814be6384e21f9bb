import { test } from "node:test";
import assert from "node:assert/strict";
import { create, StageSchema } from "@dockyard/proto";
import { formatOutputs } from "./outputs-format";
import { plainColors } from "./status-format";

test("outputs after a watched run: image size, layers and digest; test counts; environment addresses", () => {
  const stages = [
    create(StageSchema, {
      name: "image",
      outputs: { values: {}, image: { ref: "127.0.0.1:5000/app:3", sizeBytes: 2_960_000n, layers: 3, digest: `sha256:${"ab".repeat(32)}` } },
    }),
    create(StageSchema, { name: "routes", outputs: { values: {}, tests: { passed: 4, failed: 1, skipped: 0, errors: 0, total: 5 } } }),
    create(StageSchema, { name: "env", outputs: { values: { env_id: "env-1234", "web.address": "web:8080", "web.ip": "172.17.0.2" } } }),
    create(StageSchema, { name: "lint" }),
  ];
  assert.deepEqual(formatOutputs(stages, plainColors), [
    "outputs:",
    "  image   image 127.0.0.1:5000/app:3  3.0 MB, 3 layers  sha256:abababababab…",
    "  routes  tests 4 passed, 1 failed, 0 skipped, 0 errors (5)",
    "  env     environment env-1234  web=web:8080",
  ]);
  assert.deepEqual(formatOutputs([stages[3]!], plainColors), [], "nothing for stages without outputs");
});
