import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { removeTempDir, tempDir } from "./temp-dir";

const MODULE = path.join(path.dirname(fileURLToPath(import.meta.url)), "temp-dir.ts");

/** Runs `body` in a child node process that has made a tempDir (with a file in it); returns the dir's path. */
function childMakes(body: string): { dir: string; status: number | null } {
  const script = `import { tempDir } from ${JSON.stringify(MODULE)};
import { writeFileSync } from "node:fs";
const dir = tempDir("testkit-child");
writeFileSync(dir + "/f", "x");
console.log(dir);
${body}`;
  const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8" });
  return { dir: r.stdout.trim().split("\n")[0] ?? "", status: r.status };
}

test("a temp dir is dockyard-<name>-* under the temporary directory and is removed when its process exits", () => {
  const { dir, status } = childMakes("");
  assert.equal(status, 0);
  assert.ok(dir.startsWith(path.join(os.tmpdir(), "dockyard-testkit-child-")), dir);
  assert.equal(existsSync(dir), false, `${dir} was removed`);
});

test("also when the process fails", () => {
  const { dir, status } = childMakes('throw new Error("a failing test file");');
  assert.equal(status, 1);
  assert.ok(dir.length > 0);
  assert.equal(existsSync(dir), false, `${dir} was removed`);
});

test("exists while the process runs; removeTempDir removes it at once; a bad name is refused", () => {
  const dir = tempDir("testkit");
  writeFileSync(path.join(dir, "f"), "x");
  assert.ok(existsSync(dir));
  removeTempDir(dir);
  assert.equal(existsSync(dir), false);
  assert.throws(() => tempDir("../escape"), /name must be lowercase letters, digits/);
});
