// Every example pipeline a README or a comment tells users to run is valid as the built CLI checks
// it (`dockyard validate`: the pipeline and the service files its update-service stages name), so
// an example never rots behind a change of the pipeline format. A broken copy shows the check fails.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { removeTempDir, tempDir } from "@dockyard/testkit";
import { REPO_ROOT } from "../helpers/farm";

const run = promisify(execFile);
const DIST_CLI = path.join(REPO_ROOT, "dist/dockyard.js");
const EXAMPLES = path.join(REPO_ROOT, "examples");

/** Top-level .yml files of each example with a `stages:` key: the pipelines. */
const pipelines = readdirSync(EXAMPLES).flatMap((dir) =>
  readdirSync(path.join(EXAMPLES, dir))
    .filter((f) => f.endsWith(".yml"))
    .map((f) => path.join(EXAMPLES, dir, f))
    .filter((f) => /^stages:/m.test(readFileSync(f, "utf8"))),
);

test("every example pipeline and its service files pass dockyard validate", async () => {
  assert.ok(
    pipelines.some((f) => f.endsWith("continuous/journey.yml")),
    "the continuous example is among them",
  );
  assert.ok(pipelines.some((f) => f.endsWith("continuous/break.yml")));
  for (const file of pipelines) {
    const { stdout } = await run(process.execPath, [DIST_CLI, "validate", file]);
    assert.match(stdout, /: ok \(\d+ stages?/, file);
  }
});

test("a broken example fails validation, naming the problem", async () => {
  const dir = tempDir("example-broken");
  try {
    const copy = path.join(dir, "journey.yml");
    copyFileSync(path.join(EXAMPLES, "continuous/journey.yml"), copy);
    const text = readFileSync(copy, "utf8").replace("- goto: /shop", "- goto: { nope: 1 }");
    writeFileSync(copy, text);
    await assert.rejects(
      run(process.execPath, [DIST_CLI, "validate", copy]),
      (err: { stderr?: string; stdout?: string }) => {
        assert.match(`${err.stdout ?? ""}${err.stderr ?? ""}`, /goto/);
        return true;
      },
    );
  } finally {
    removeTempDir(dir);
  }
});
