import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { randomUUID } from "node:crypto";
import path from "node:path";
import { OUTPUT_FILE } from "../executor/types";
import { tempDir } from "@dockyard/testkit";
import { OutputDirs, readOutputs } from "./output-dir";

const dirs = new OutputDirs(path.join(tempDir("output-dirs"), "outputs"));
const createOutputDir = (id: string) => dirs.create(id);
const outputDir = (id: string) => dirs.pathOf(id);
const removeOutputDir = (id: string) => dirs.remove(id);

describe("output directory", () => {
  it("is made writable for any container user, read back, and removed", async () => {
    const id = randomUUID();
    try {
      const dir = createOutputDir(id);
      assert.equal(path.dirname(dir), outputDir(id));
      assert.equal(statSync(dir).mode & 0o777, 0o777);
      assert.equal(statSync(outputDir(id)).mode & 0o777, 0o700, "the attempt's directory keeps other host users out");
      assert.equal(statSync(path.join(dir, OUTPUT_FILE)).mode & 0o777, 0o666);
      assert.deepEqual(await readOutputs(dir), {});
      writeFileSync(path.join(dir, OUTPUT_FILE), "a=1\n");
      assert.deepEqual(await readOutputs(dir), { a: "1" });
      rmSync(path.join(dir, OUTPUT_FILE));
      assert.deepEqual(await readOutputs(dir), {}, "a removed file is no outputs");
    } finally {
      removeOutputDir(id);
    }
    assert.equal(existsSync(outputDir(id)), false);
  });

  it("refuses a symbolic link (it could name a host file) and a FIFO (it would never end)", async () => {
    const id = randomUUID();
    try {
      const dir = createOutputDir(id);
      const file = path.join(dir, OUTPUT_FILE);
      rmSync(file);
      symlinkSync("/etc/hostname", file);
      await assert.rejects(readOutputs(dir), /\$DOCKYARD_OUTPUT: the file is a symbolic link/);
      rmSync(file);
      execFileSync("mkfifo", [file]);
      await assert.rejects(readOutputs(dir), /\$DOCKYARD_OUTPUT: not a regular file/);
    } finally {
      removeOutputDir(id);
    }
  });

  it("reaps the directories of attempts no runner holds (a killed agent's), keeping the running ones", () => {
    const [kept, left] = [randomUUID(), randomUUID()];
    dirs.create(kept);
    dirs.create(left);
    writeFileSync(path.join(dirs.root, "not-an-attempt.txt"), "");
    assert.deepEqual(dirs.reap(new Set([kept])), [left]);
    assert.equal(existsSync(outputDir(left)), false);
    assert.equal(existsSync(outputDir(kept)), true, "a running attempt's directory stays");
    assert.equal(existsSync(path.join(dirs.root, "not-an-attempt.txt")), true, "only attempt directories are removed");
    dirs.remove(kept);
  });
});
