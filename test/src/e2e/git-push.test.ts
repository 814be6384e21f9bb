// Git push webhooks start the registered pipeline at the pushed commit: `dockyard repos add`
// prints the secret once; a GitHub-signed push of an older commit of `main` builds that
// commit's files (not the branch's newer ones) with the run attributes branch and commit; a
// GitLab push with its token does the same; a branch the registration does not match and a
// ping start nothing (beside one that does); `GET /api/v1/runs?branch=` and
// `dockyard runs --branch` list a branch's runs only.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  dockyardCli,
  git,
  githubPush,
  gitlabPush,
  logsByStage,
  makePushRepo,
  runEvents,
  secretFrom,
  sendGithub,
  sendGitlab,
  startFarm,
  testDocker,
  waitForRun,
  type Farm,
  type PushRepo,
} from "../index";

const tag = `git-push-${Date.now()}`;
/** Builds the repository's Dockerfile and prints the image's version.txt. */
const buildPipeline = `# built by pushes
name: pushed-build
stages:
  image: { type: build, tags: ["${tag}:1"] }
  check:
    type: test
    needs: [image]
    image: \${{ stages.image.outputs.image }}
    command: "echo content=$(cat /version.txt)"
`;
const shellPipeline = `name: pushed-shell\nstages:\n  hello: { executor: shell, command: "echo hello from a push" }\n`;

describe("git push webhooks start the pipeline at the pushed commit", { concurrency: 1 }, () => {
  let farm: Farm;
  let repo: PushRepo;
  let buildSecret: string;
  let shellSecret: string;

  before(async () => {
    await testDocker();
    repo = makePushRepo({
      Dockerfile: 'FROM dockyard/busybox:1\nCOPY version.txt /version.txt\nCMD ["cat", "/version.txt"]\n',
      "ci/build.yml": buildPipeline,
      "ci/shell.yml": shellPipeline,
    });
    git(repo.dir, "branch", "feature/x", repo.first);
    farm = await startFarm({ agents: [{ name: "push-builder" }] });
    await farm.startAgent({ name: "push-shell", executor: "shell", capacity: 4 });
    const added = await dockyardCli(farm, ["repos", "add", "app", "--git", repo.url, "--pipeline", "ci/build.yml"]);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /webhook: POST \/hooks\/v1\/git\/app /);
    buildSecret = secretFrom(added.stdout);
    const shell = await dockyardCli(farm, [
      "repos",
      "add",
      "shell",
      "--git",
      repo.url,
      "--pipeline",
      "ci/shell.yml",
      "--branch",
      "main,release/*",
    ]);
    assert.equal(shell.code, 0, shell.stderr);
    shellSecret = secretFrom(shell.stdout);
  });
  after(async () => farm?.stop());

  it("lists repositories without their secrets, and URLs without credentials", async () => {
    const withCreds = await dockyardCli(farm, [
      "repos",
      "add",
      "private",
      "--git",
      "https://bot:hunter2@git.example/acme/app.git",
      "--pipeline",
      "dockyard.yml",
    ]);
    assert.equal(withCreds.code, 0, withCreds.stderr);
    const listed = await dockyardCli(farm, ["repos", "list", "--json"]);
    assert.equal(listed.code, 0, listed.stderr);
    const repos = JSON.parse(listed.stdout) as { name: string; url: string; pipeline: string; branch: string | null }[];
    assert.deepEqual(
      repos.map((r) => [r.name, r.pipeline, r.branch]),
      [
        ["app", "ci/build.yml", null],
        ["private", "dockyard.yml", null],
        ["shell", "ci/shell.yml", "main,release/*"],
      ],
    );
    assert.equal(repos.find((r) => r.name === "private")!.url, "https://***@git.example/acme/app.git");
    assert.doesNotMatch(listed.stdout, new RegExp(`${buildSecret}|${shellSecret}|hunter2`));
    const bad = await dockyardCli(farm, ["repos", "add", "bad", "--git", "ssh://x/y", "--pipeline", "a.yml"]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /invalid --git URL 'ssh:\/\/x\/y': use a file:\/\/, http:\/\/ or https:\/\/ clone URL/);
    const removed = await dockyardCli(farm, ["repos", "rm", "private"]);
    assert.equal(removed.code, 0, removed.stderr);
    const gone = await sendGithub(farm, "private", "x", githubPush("main", repo.head));
    assert.equal(gone.status, 401);
    assert.match(gone.body.error!.message, /unknown repository 'private'/);
  });

  it("a signed GitHub push of an older commit builds that commit's files, with branch and commit on the run", async () => {
    const answer = await sendGithub(farm, "app", buildSecret, githubPush("main", repo.first));
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    assert.equal(answer.body.run!.branch, "main");
    assert.equal(answer.body.run!.commit, repo.first);
    const runId = answer.body.run!.id;
    const run = await waitForRun(farm.client, runId, 180_000);
    const logs = logsByStage(await runEvents(farm.client, runId));
    assert.equal(run.state, "succeeded", JSON.stringify([...logs]));
    assert.equal(run.branch, "main");
    assert.equal(run.commit, repo.first);
    assert.equal(run.source, "git:app:ci/build.yml");
    assert.equal(run.stages.find((s) => s.name === "image")!.outputs?.values.commit, repo.first);
    assert.match(logs.get("check") ?? "", /content=first build/);
    assert.doesNotMatch(logs.get("check") ?? "", /second build/);
    // The HTTP view carries the same attributes.
    const res = await fetch(`${farm.server.httpUrl}/api/v1/runs/${runId}`, {
      headers: { authorization: `Bearer ${farm.apiToken}` },
    });
    const view = ((await res.json()) as { run: { branch: string; commit: string; name: string } }).run;
    assert.deepEqual([view.name, view.branch, view.commit], ["pushed-build", "main", repo.first]);
  });

  it("a GitLab push with its token starts the run too; an unmatched branch, a tag and a ping start nothing", async () => {
    const before = (await farm.client.listRuns({ limit: 500 })).runs.length;
    const unmatched = await sendGitlab(farm, "shell", shellSecret, gitlabPush("feature/x", repo.first));
    assert.equal(unmatched.status, 202, JSON.stringify(unmatched.body));
    assert.equal(unmatched.body.ignored, "branch 'feature/x' does not match 'main,release/*'");
    const tagPush = await sendGitlab(farm, "shell", shellSecret, gitlabPush("main", repo.head), {
      event: "Tag Push Hook",
    });
    assert.equal(tagPush.status, 202);
    assert.match(tagPush.body.ignored!, /a tag push starts no run/);
    const ping = await sendGithub(farm, "shell", shellSecret, JSON.stringify({ zen: "hi" }), { event: "ping" });
    assert.equal(ping.status, 202);
    assert.match(ping.body.ignored!, /^ping/);
    assert.equal((await farm.client.listRuns({ limit: 500 })).runs.length, before, "nothing started");
    // The same repository's push of a matching branch starts a run (what the refusals would have done).
    const pushed = await sendGitlab(farm, "shell", shellSecret, gitlabPush("main", repo.head));
    assert.equal(pushed.status, 201, JSON.stringify(pushed.body));
    const run = await waitForRun(farm.client, pushed.body.run!.id, 60_000);
    assert.equal(run.state, "succeeded");
    assert.deepEqual([run.name, run.branch, run.commit], ["pushed-shell", "main", repo.head]);
    assert.equal((await farm.client.listRuns({ limit: 500 })).runs.length, before + 1);
  });

  it("GET /api/v1/runs?branch= and dockyard runs --branch list only that branch's runs", async () => {
    git(repo.dir, "branch", "release/1", repo.first);
    const release = await sendGithub(farm, "shell", shellSecret, githubPush("release/1", repo.first));
    assert.equal(release.status, 201, JSON.stringify(release.body));
    await waitForRun(farm.client, release.body.run!.id, 60_000);
    const list = async (query: string) => {
      const res = await fetch(`${farm.server.httpUrl}/api/v1/runs${query}`, {
        headers: { authorization: `Bearer ${farm.apiToken}` },
      });
      assert.equal(res.status, 200);
      return ((await res.json()) as { runs: { id: string; branch: string | null }[] }).runs;
    };
    const onRelease = await list("?branch=release%2F1");
    assert.deepEqual(
      onRelease.map((r) => [r.id, r.branch]),
      [[release.body.run!.id, "release/1"]],
    );
    const onMain = await list("?branch=main");
    assert.equal(onMain.length, 2);
    assert.ok(onMain.every((r) => r.branch === "main"));
    assert.equal((await list("")).length, 3, "without the filter, every run");
    assert.deepEqual(await list("?branch=nope"), []);
    const bad = await fetch(`${farm.server.httpUrl}/api/v1/runs?branch=${"x".repeat(300)}`, {
      headers: { authorization: `Bearer ${farm.apiToken}` },
    });
    assert.equal(bad.status, 400);
    const cli = await dockyardCli(farm, ["runs", "--branch", "release/1", "--json"]);
    assert.equal(cli.code, 0, cli.stderr);
    const runs = JSON.parse(cli.stdout) as { id: string; branch: string; commit: string }[];
    assert.deepEqual(
      runs.map((r) => [r.id, r.branch, r.commit]),
      [[release.body.run!.id, "release/1", repo.first]],
    );
    const table = await dockyardCli(farm, ["runs", "--branch", "main"]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /BRANCH\s+COMMIT/);
    assert.match(table.stdout, new RegExp(`main\\s+${repo.head.slice(0, 12)}`));
    assert.doesNotMatch(table.stdout, /release\/1/);
  });
});
