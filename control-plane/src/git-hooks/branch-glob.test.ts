import { test } from "node:test";
import assert from "node:assert/strict";
import { branchMatches, checkBranchGlob } from "./branch-glob";

test("branch globs: exact names, * within a segment, ** across, lists, and empty for all", () => {
  assert.equal(branchMatches("", "anything/at/all"), true);
  assert.equal(branchMatches("main", "main"), true);
  assert.equal(branchMatches("main", "main2"), false);
  assert.equal(branchMatches("release/*", "release/v1"), true);
  assert.equal(branchMatches("release/*", "release/v1/hotfix"), false);
  assert.equal(branchMatches("feature/**", "feature/a/b"), true);
  assert.equal(branchMatches("main,release/*", "release/2"), true);
  assert.equal(branchMatches("v1.?", "v1.x"), true);
  assert.equal(branchMatches("v1.?", "v1x2"), false, "a dot is literal");
  assert.throws(() => checkBranchGlob("main, dev"), /invalid --branch/);
  assert.throws(() => checkBranchGlob("main,,dev"), /invalid --branch/);
  assert.equal(checkBranchGlob("main,release/*"), "main,release/*");
});
