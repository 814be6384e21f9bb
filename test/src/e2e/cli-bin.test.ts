// cli/bin/dockyard picks what to run: the build in dist/ while it is newer than every
// source (scripts/build-inputs.sh), else the TypeScript sources with tsx, never old code.
// Run on a copy of the bin in a temporary tree whose "build" and "sources" say which ran.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { REPO_ROOT } from "../helpers/farm";
import { tempDir } from "@dockyard/testkit";

const run = promisify(execFile);
const root = tempDir("bin");
after(() => rmSync(root, { recursive: true, force: true }));

for (const f of ["cli/bin/dockyard", "cli/bin/register.mjs", "scripts/build-inputs.sh"]) {
  mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
  copyFileSync(path.join(REPO_ROOT, f), path.join(root, f));
}
// register.mjs resolves tsx from the bin's directory upwards.
symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(root, "node_modules"));
mkdirSync(path.join(root, "cli/src"));
const source = path.join(root, "cli/src/main.ts");
writeFileSync(source, 'const from: string = "sources";\nconsole.log(from, process.argv.slice(2).join(" "));\n');

const dockyard = async (...args: string[]) => (await run(path.join(root, "cli/bin/dockyard"), args)).stdout;
const at = (file: string, secondsAgo: number) => {
  const t = new Date(Date.now() - secondsAgo * 1000);
  utimesSync(file, t, t);
};

test("without a build, the bin runs the sources", async () => {
  assert.equal(await dockyard("a", "b c"), "sources a b c\n");
});

test("the bin runs dist/ while it is newer than the sources, and the sources once one is newer", async () => {
  mkdirSync(path.join(root, "dist"));
  writeFileSync(path.join(root, "dist/dockyard.js"), 'console.log("built", process.argv.slice(2).join(" "));\n');
  const stamp = path.join(root, "dist/.build-hash");
  writeFileSync(stamp, "0".repeat(64));
  at(source, 60);
  at(path.join(root, "scripts/build-inputs.sh"), 60); // an input too, copied just now
  at(stamp, 30);
  assert.equal(await dockyard("runs", "--json"), "built runs --json\n");
  // A source edited after the build: the old build must not run.
  at(source, 10);
  assert.equal(await dockyard("runs"), "sources runs\n");
  // Tests are not inputs of the build.
  at(source, 60);
  writeFileSync(path.join(root, "cli/src/main.test.ts"), "");
  assert.equal(await dockyard("runs"), "built runs\n");
});
