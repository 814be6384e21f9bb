import { test } from "node:test";
import assert from "node:assert/strict";
import { outputsSummary } from "./summary";

test("each kind summarises its own outputs: image size, layers and digest; test counts; environment addresses", () => {
  const image = {
    ref: "127.0.0.1:5000/app:3",
    id: "sha256:1",
    sizeBytes: 2_960_000,
    layers: 3,
    digest: `sha256:${"ab".repeat(32)}`,
  };
  assert.equal(
    outputsSummary("build", { values: {}, image }),
    "image 127.0.0.1:5000/app:3  3.0 MB, 3 layers  sha256:abababababab…",
  );
  assert.equal(
    outputsSummary("build", { values: {}, image: { ...image, digest: "" } }),
    "image 127.0.0.1:5000/app:3  3.0 MB, 3 layers",
  );
  const tests = { passed: 4, failed: 1, skipped: 0, errors: 0, total: 5 };
  assert.equal(outputsSummary("test", { values: {}, tests }), "tests 4 passed, 1 failed, 0 skipped, 0 errors (5)");
  const env = { values: { env_id: "env-1234", "web.address": "web:8080", "web.ip": "172.17.0.2" } };
  assert.equal(outputsSummary("deploy", env), "environment env-1234  web=web:8080");
  // A command stage's outputs are whatever it wrote: no summary, even with a deploy's keys.
  assert.equal(outputsSummary("command", env), "");
  assert.equal(outputsSummary("no-such-kind", env), "");
  assert.equal(outputsSummary("build", null), "");
});
