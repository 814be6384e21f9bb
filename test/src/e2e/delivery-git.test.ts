// Builds from a git source (`source: { git, ref }`, nothing uploaded): the build stage
// checks out the ref on the agent and reports the commit it built; a branch gives its
// HEAD, a commit sha gives that commit's files (read back by a test stage running the
// image); an unknown ref fails the build naming the ref; and a pipeline with a build
// stage but neither a git source nor an upload is refused at submit.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { startFarm, submit, waitForRun, runEvents, logsByStage, testDocker, type Farm } from "../index";
import { tempDir } from "@dockyard/testkit";

/** `git` in `dir` with a fixed identity (no global config needed), returning its stdout. */
function git(dir: string, ...args: string[]): string {
  return execFileSync("git", ["-c", "user.name=Dockyard Test", "-c", "user.email=test@dockyard.invalid", ...args], {
    cwd: dir,
    encoding: "utf8",
  }).trim();
}

interface Repo {
  url: string;
  first: string;
  head: string;
}

/**
 * A repository on branch `main` with two commits: version.txt says "first build" at the first, "second build" at HEAD.
 */
function makeRepo(): Repo {
  const dir = tempDir("git");
  git(dir, "init", "-q", "-b", "main");
  writeFileSync(
    path.join(dir, "Dockerfile"),
    'FROM dockyard/busybox:1\nCOPY version.txt /version.txt\nCMD ["cat", "/version.txt"]\n',
  );
  writeFileSync(path.join(dir, "version.txt"), "first build\n");
  git(dir, "add", "Dockerfile", "version.txt");
  git(dir, "commit", "-q", "-m", "first");
  const first = git(dir, "rev-parse", "HEAD");
  writeFileSync(path.join(dir, "version.txt"), "second build\n");
  git(dir, "commit", "-q", "-am", "second");
  return { url: `file://${dir}`, first, head: git(dir, "rev-parse", "HEAD") };
}

/** A build of the repository at `ref` and a test stage that prints the built image's version.txt. */
const buildAndCat = (name: string, url: string, ref: string, tag: string) => `
name: ${name}
source: { git: "${url}", ref: "${ref}" }
stages:
  image: { type: build, tags: ["${tag}"] }
  check:
    type: test
    needs: [image]
    image: \${{ stages.image.outputs.image }}
    command: "echo content=$(cat /version.txt)"
`;

describe("builds from a git source", { concurrency: 1 }, () => {
  let farm: Farm;
  let repo: Repo;

  before(async () => {
    await testDocker();
    repo = makeRepo();
    farm = await startFarm({ agents: [{ name: "git-builder" }] });
  });
  after(async () => farm?.stop());

  it("a branch builds its HEAD, and the build stage reports that commit", async () => {
    const runId = await submit(farm.client, buildAndCat("git-branch", repo.url, "main", `git-branch-${Date.now()}:1`));
    const run = await waitForRun(farm.client, runId, 180_000);
    const logs = logsByStage(await runEvents(farm.client, runId));
    assert.equal(run.state, "succeeded", JSON.stringify([...logs]));
    const build = run.stages.find((s) => s.name === "image")!;
    assert.equal(build.outputs?.values.commit, repo.head);
    assert.match(logs.get("image") ?? "", new RegExp(`dockyard: source at commit ${repo.head}`));
    assert.match(logs.get("check") ?? "", /content=second build/);
  });

  it("a commit sha builds that commit's files, not the branch's newer ones", async () => {
    const runId = await submit(farm.client, buildAndCat("git-sha", repo.url, repo.first, `git-sha-${Date.now()}:1`));
    const run = await waitForRun(farm.client, runId, 180_000);
    const logs = logsByStage(await runEvents(farm.client, runId));
    assert.equal(run.state, "succeeded", JSON.stringify([...logs]));
    assert.notEqual(repo.first, repo.head);
    assert.equal(run.stages.find((s) => s.name === "image")!.outputs?.values.commit, repo.first);
    assert.match(logs.get("check") ?? "", /content=first build/);
    assert.doesNotMatch(logs.get("check") ?? "", /second build/);
  });

  it("an unknown ref fails the build stage with a message naming the ref", async () => {
    const runId = await submit(
      farm.client,
      buildAndCat("git-noref", repo.url, "no-such-branch", `git-noref-${Date.now()}:1`),
    );
    const run = await waitForRun(farm.client, runId, 120_000);
    const logs = logsByStage(await runEvents(farm.client, runId));
    assert.equal(run.state, "failed", JSON.stringify([...logs]));
    const [build, check] = run.stages;
    assert.equal(build!.state, "failed");
    assert.equal(check!.state, "skipped");
    assert.match(
      logs.get("image") ?? "",
      /dockyard: ref 'no-such-branch' was not found in file:\/\/\S+ \(no such branch, tag or commit\)/,
    );
  });

  it("a build stage with neither a git source nor an uploaded directory is refused at submit, and nothing is written", async () => {
    const before = (await farm.client.listRuns({ limit: 500 })).runs.length;
    await assert.rejects(
      submit(farm.client, `name: no-source\nstages:\n  image: { type: build, tags: ["no-source:1"] }\n`),
      /this pipeline has build stages and no git source:, so it needs the directory uploaded with it/,
    );
    assert.equal(
      (await farm.client.listRuns({ limit: 500 })).runs.length,
      before,
      "no run written for the refused submit",
    );
    // An upload that is not a tar is refused too, by what it is, before anything is written.
    await assert.rejects(
      farm.client.submitRun({
        pipelineYaml: Buffer.from(`name: junk\nstages:\n  image: { type: build, tags: ["junk:1"] }\n`),
        source: "test",
        sourceTar: Buffer.alloc(1024, 0x41),
      }),
      /the uploaded source is not a tar archive/,
    );
    assert.equal((await farm.client.listRuns({ limit: 500 })).runs.length, before);
    // The same stage with a git source is accepted (and written).
    const accepted = await submit(
      farm.client,
      `name: no-source\nsource: { git: "${repo.url}", ref: main }\nstages:\n  image: { type: build, tags: ["no-source:1"] }\n`,
    );
    assert.equal((await farm.client.listRuns({ limit: 500 })).runs.length, before + 1);
    assert.equal((await waitForRun(farm.client, accepted, 120_000)).state, "succeeded");
  });
});
