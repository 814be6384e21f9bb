import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { readReleaseVersion, releaseVersion, releaseVersionText } from "./release";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

test("a package's VERSION file names the version and commit", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "dockyard-release-"));
  try {
    writeFileSync(path.join(dir, "VERSION"), "1.2.3 abc1234\n");
    assert.deepEqual(readReleaseVersion(dir), { version: "1.2.3", commit: "abc1234" });
    // Without VERSION nor git: cli/package.json's version, commit unknown.
    rmSync(path.join(dir, "VERSION"));
    mkdirSync(path.join(dir, "cli"));
    writeFileSync(path.join(dir, "cli/package.json"), '{"version":"1.2.4"}');
    assert.deepEqual(readReleaseVersion(dir), { version: "1.2.4", commit: "unknown" });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("in the checkout: cli/package.json's version and git's HEAD", () => {
  const commit = execFileSync("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
  assert.equal(releaseVersion().commit, commit);
  assert.equal(releaseVersionText(), `${releaseVersion().version} (${commit})`);
});
