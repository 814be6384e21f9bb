// npm test's reporter, on a file of its own: the recap names each failed test and its error
// just above the closing counts, and leaves passing tests out.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { tempDir } from "@dockyard/testkit";
import { REPO_ROOT } from "../helpers/farm";

const REPORTER = path.join(REPO_ROOT, "test/src/reporter/tap-with-recap.mjs");

const FIXTURE = `
import { describe, it } from "node:test";
import assert from "node:assert/strict";
describe("outer", () => {
  it("passes quietly", () => {});
  it("fails on a value", () => assert.equal(1 + 1, 3, "one and one make two"));
});
it("throws", () => { throw new Error("boom\\n\\nsecond line"); });
`;

async function runFixture(source: string): Promise<string> {
  const file = path.join(tempDir("recap"), "fixture.test.ts");
  writeFileSync(file, source);
  const args = ["--import", "tsx", "--test", `--test-reporter=${REPORTER}`, file];
  // Without NODE_TEST_CONTEXT: set by the runner around this file, it makes a child runner talk to its parent.
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const out = await promisify(execFile)(process.execPath, args, { cwd: REPO_ROOT, env }).catch(
    (err: { stdout: string; code: number }) => {
      assert.equal(err.code, 1, "a run with failures exits 1");
      return err;
    },
  );
  return out.stdout;
}

test("the recap lists each failure with its message above the closing counts; passes are left out", async () => {
  const out = await runFixture(FIXTURE);
  const tail = out.slice(out.indexOf("# 2 failed:"));
  assert.ok(out.includes("# 2 failed:"), out);
  assert.match(
    tail,
    /^# 2 failed:\n# FAILED \S*fixture\.test\.ts: fails on a value\n# {5}one and one make two\n# {5}2 !== 3\n# FAILED \S*fixture\.test\.ts: throws\n# {5}boom\n# {5}second line\n# tests 3\n/,
  );
  assert.doesNotMatch(tail, /passes quietly|outer/, "neither the passing test nor its suite is recapped");
  assert.match(out, /\n# pass 1\n# fail 2\n/);
});

test("a run without failures has no recap, and its TAP is node's own", async () => {
  const out = await runFixture(`import { it } from "node:test";\nit("passes", () => {});\n`);
  assert.doesNotMatch(out, /failed:|FAILED/);
  assert.match(out, /^TAP version 13\n/);
  assert.match(out, /\n# pass 1\n# fail 0\n/);
});
