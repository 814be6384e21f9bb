// Git push deliveries that must start nothing: no signature, a wrong one, a body changed after
// signing, a replayed delivery id (also after the first was accepted), a wrong or missing GitLab
// token, a body over the limit, bad JSON, a missing delivery id, and a pipeline file that is not
// at the commit. Each is refused with an error naming the problem, no run is written, and the
// same test shows that the correct delivery does start a run.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import {
  dockyardCli,
  githubPush,
  gitlabPush,
  hubSignature,
  makePushRepo,
  postPush,
  secretFrom,
  sendGithub,
  sendGitlab,
  startFarm,
  waitForRun,
  type Farm,
  type PushRepo,
} from "../index";

const pipeline = `name: refusals\nstages:\n  hello: { executor: shell, command: "echo pushed" }\n`;

describe("git push deliveries that are refused start nothing", { concurrency: 1 }, () => {
  let farm: Farm;
  let repo: PushRepo;
  let secret: string;
  let noFileSecret: string;
  const runCount = async () => (await farm.client.listRuns({ limit: 500 })).runs.length;

  before(async () => {
    repo = makePushRepo({ "dockyard.yml": pipeline });
    farm = await startFarm();
    await farm.startAgent({ name: "refuse-shell", executor: "shell", capacity: 4 });
    const added = await dockyardCli(farm, ["repos", "add", "app", "--git", repo.url, "--pipeline", "dockyard.yml"]);
    assert.equal(added.code, 0, added.stderr);
    secret = secretFrom(added.stdout);
    const missing = await dockyardCli(farm, ["repos", "add", "nofile", "--git", repo.url, "--pipeline", "ci/none.yml"]);
    assert.equal(missing.code, 0, missing.stderr);
    noFileSecret = secretFrom(missing.stdout);
  });
  after(async () => farm?.stop());

  it("GitHub: missing, malformed, wrong and body-modified signatures are refused with 401; the correct one starts a run", async () => {
    const body = githubPush("main", repo.head);
    const refused = [
      [await sendGithub(farm, "app", secret, body, { signature: null }), /X-Hub-Signature-256 is missing/],
      [await sendGithub(farm, "app", secret, body, { signature: "sha1=abc" }), /must be 'sha256=' and 64 hex digits/],
      [
        await sendGithub(farm, "app", secret, body, { signature: hubSignature("not-the-secret", body) }),
        /X-Hub-Signature-256 does not match the body \(wrong secret, or the body changed\)/,
      ],
      [
        // Signed, then one commit swapped for another on the way.
        await postPush(farm, "app", githubPush("main", repo.first), {
          "content-type": "application/json",
          "x-github-event": "push",
          "x-github-delivery": randomUUID(),
          "x-hub-signature-256": hubSignature(secret, body),
        }),
        /does not match the body/,
      ],
      [
        await postPush(farm, "app", body, { "content-type": "application/json" }),
        /not signed \(GitHub: X-Hub-Signature-256 with X-GitHub-Event; GitLab: X-Gitlab-Token with X-Gitlab-Event\)/,
      ],
    ] as const;
    for (const [answer, message] of refused) {
      assert.equal(answer.status, 401, JSON.stringify(answer.body));
      assert.equal(answer.body.error!.code, "unauthenticated");
      assert.match(answer.body.error!.message, message);
    }
    assert.equal(await runCount(), 0, "no refused delivery started a run");
    const ok = await sendGithub(farm, "app", secret, body);
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    assert.equal((await waitForRun(farm.client, ok.body.run!.id, 60_000)).state, "succeeded");
    assert.equal(await runCount(), 1);
  });

  it("a replayed delivery id is refused with 409 and starts nothing, at GitHub and GitLab alike", async () => {
    const before = await runCount();
    const delivery = randomUUID();
    const body = githubPush("main", repo.first);
    const first = await sendGithub(farm, "app", secret, body, { delivery });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    const replay = await sendGithub(farm, "app", secret, body, { delivery });
    assert.equal(replay.status, 409);
    assert.match(
      replay.body.error!.message,
      new RegExp(`delivery '${delivery}' was already received: a replayed delivery is refused`),
    );
    const uuid = randomUUID();
    const gl = await sendGitlab(farm, "app", secret, gitlabPush("main", repo.head), { delivery: uuid });
    assert.equal(gl.status, 201, JSON.stringify(gl.body));
    const glReplay = await sendGitlab(farm, "app", secret, gitlabPush("main", repo.head), { delivery: uuid });
    assert.equal(glReplay.status, 409);
    assert.equal(await runCount(), before + 2, "each delivery started one run, each replay none");
  });

  it("GitLab: a missing or wrong token is refused with 401; the right one starts a run", async () => {
    const before = await runCount();
    const body = gitlabPush("main", repo.head);
    const missing = await sendGitlab(farm, "app", null, body);
    assert.equal(missing.status, 401);
    assert.match(missing.body.error!.message, /X-Gitlab-Token is missing/);
    const wrong = await sendGitlab(farm, "app", `${secret}x`, body);
    assert.equal(wrong.status, 401);
    assert.match(wrong.body.error!.message, /X-Gitlab-Token is not this repository's secret/);
    assert.equal(await runCount(), before);
    const ok = await sendGitlab(farm, "app", secret, body);
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    assert.equal(await runCount(), before + 1);
  });

  it("bad bodies and headers are refused naming the problem: too large, not JSON, no ref, no delivery id, no pipeline file", async () => {
    const before = await runCount();
    const notJson = await sendGithub(farm, "app", secret, "{ref: main");
    assert.equal(notJson.status, 400);
    assert.match(notJson.body.error!.message, /request body is not valid JSON/);
    const noRef = await sendGithub(farm, "app", secret, JSON.stringify({ after: repo.head }));
    assert.equal(noRef.status, 400);
    assert.match(noRef.body.error!.message, /body field 'ref' must be a string/);
    const shortSha = await sendGithub(farm, "app", secret, githubPush("main", repo.head.slice(0, 7)));
    assert.equal(shortSha.status, 400);
    assert.match(shortSha.body.error!.message, /body field 'after' must be the pushed commit's full sha/);
    const body = githubPush("main", repo.head);
    const noId = await postPush(farm, "app", body, {
      "content-type": "application/json",
      "x-github-event": "push",
      "x-hub-signature-256": hubSignature(secret, body),
    });
    assert.equal(noId.status, 400);
    assert.match(noId.body.error!.message, /X-GitHub-Delivery is required/);
    const noFile = await sendGithub(farm, "nofile", noFileSecret, body);
    assert.equal(noFile.status, 400);
    assert.match(
      noFile.body.error!.message,
      new RegExp(`the pipeline file 'ci/none.yml' does not exist at commit ${repo.head} of file://`),
    );
    // Last: the server closes a connection whose body it did not read, and fetch may have pooled it.
    const huge = githubPush("main", repo.head, { padding: "x".repeat(1024 * 1024) });
    const tooLarge = await sendGithub(farm, "app", secret, huge);
    assert.equal(tooLarge.status, 413);
    assert.match(tooLarge.body.error!.message, /request body exceeds the limit of 1048576 bytes/);
    assert.equal(await runCount(), before, "no bad delivery started a run");
  });
});
