import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { defaultPipelineName, problemsText, readPipelineFile, serverProblemsText } from "./pipeline-file";
import { tempDir } from "@dockyard/testkit";

test("reads small files and refuses large ones with a clear message", async () => {
  const dir = tempDir("cli");
  const small = join(dir, "dockyard.yml");
  await writeFile(small, "version: 1\n");
  assert.equal(Buffer.from(await readPipelineFile(small)).toString(), "version: 1\n");
  const big = join(dir, "big.yml");
  await writeFile(big, Buffer.alloc(1024 * 1024 + 1, 0x61));
  await assert.rejects(
    readPipelineFile(big),
    /big\.yml is too large \(at least 1 MiB\); pipeline files are limited to 1 MiB/,
  );
  await assert.rejects(readPipelineFile(join(dir, "missing.yml")), /cannot read .*missing\.yml: no such file/);
  await assert.rejects(readPipelineFile(dir), /it is a directory/);
});

test("problem lists print verbatim, one per line, newline-terminated", () => {
  const details = "dockyard.yml:3:5: stages.build: unknown key 'imag'\ndockyard.yml:9:1: stages: no stages";
  assert.equal(serverProblemsText(details), `${details}\n`);
  assert.equal(serverProblemsText(`${details}\n`), `${details}\n`);
  assert.equal(problemsText(["a:1:1: x", "a:2:1: y"]), "a:1:1: x\na:2:1: y\n");
});

test("local problems use @dockyard/pipeline's formatter", async () => {
  const { parsePipeline, formatProblems } = await import("@dockyard/pipeline");
  const result = parsePipeline("version: 1\nstages: 3\n");
  assert.equal(result.ok, false);
  const text = problemsText(formatProblems(result.ok ? [] : result.problems, "p.yml"));
  assert.match(text, /^p\.yml:\d+:\d+: /m);
  assert.ok(text.endsWith("\n"));
});

test("a nameless pipeline is named after its directory, sanitised to the name pattern", () => {
  assert.equal(defaultPipelineName("/src/web-app/dockyard.yml"), "web-app");
  assert.equal(defaultPipelineName("/src/My Project!/dockyard.yml"), "my-project");
  assert.equal(defaultPipelineName("/src/__Tools.v2__/dockyard.yml"), "tools.v2__");
  assert.equal(defaultPipelineName("/src/ünïcode/x.yml"), "n-code");
  assert.equal(defaultPipelineName(`/src/${"a".repeat(80)}/x.yml`), "a".repeat(63));
  assert.equal(defaultPipelineName("/dockyard.yml"), null);
  assert.equal(defaultPipelineName("/src/!!!/dockyard.yml"), null);
  for (const dir of ["My Project!", "__Tools.v2__", "ünïcode", "a.b-c_d"]) {
    assert.match(defaultPipelineName(`/src/${dir}/dockyard.yml`) ?? "", /^[a-z0-9][a-z0-9._-]{0,62}$/, dir);
  }
});
