// Stage artifacts end to end (real server, agents, Postgres): files a command stage leaves in
// $DOCKYARD_ARTIFACTS (shell and docker executors) are stored and come back byte-identical
// through the CLI and the HTTP API; a file over 10 MiB, a symlink, a directory and a bad name
// are skipped with a log line naming them while the others upload; only the agent holding an
// attempt may upload to it, and the server checks names, types, sizes and counts itself.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { randomBytes, randomUUID } from "node:crypto";
import { status } from "@grpc/grpc-js";
import {
  MAX_ARTIFACT_BYTES,
  MAX_ATTEMPT_ARTIFACTS,
  MAX_ATTEMPT_ARTIFACT_BYTES,
  type Assignment,
} from "@dockyard/proto";
import type { AgentClient } from "@dockyard/agent";
import type { ArtifactView } from "@dockyard/web";
import { tempDir } from "@dockyard/testkit";
import {
  dockyardCli,
  handAgent,
  logsByStage,
  runEvents,
  startFarm,
  submit,
  testDocker,
  waitFor,
  waitForRun,
  type Farm,
} from "../index";

/** What a refused gRPC call carries. */
const refusal = (err: unknown) => ({
  code: (err as { code?: number }).code,
  details: (err as { details?: string }).details,
});

describe("stage artifacts", { timeout: 180_000 }, () => {
  let farm: Farm;
  const files = tempDir("artifact-files");
  const shot = randomBytes(300_000); // a "screenshot": binary, not valid UTF-8
  const docText = Array.from({ length: 2000 }, (_, i) => `${i + 1}\n`).join("");
  const get = (route: string) =>
    fetch(`${farm.server.httpUrl}/api/v1${route}`, { headers: { authorization: `Bearer ${farm.apiToken}` } });

  before(async () => {
    await testDocker();
    writeFileSync(path.join(files, "shot.png"), shot);
    // A longer lease than the default farm's: the hand agent below holds an attempt without renewing it.
    farm = await startFarm({
      env: { DOCKYARD_LEASE_TTL_MS: "30000" },
      agents: [
        { name: "art-shell", executor: "shell" },
        { name: "art-docker", executor: "docker" },
      ],
    });
  });
  after(async () => farm?.stop());

  it("stores a command stage's files, skips what breaks a bound with a line naming it, and serves them byte-identical", async () => {
    const outside = path.join(files, "secret.txt");
    writeFileSync(outside, "host file\n");
    const runId = await submit(
      farm.client,
      `
name: art
stages:
  collect:
    executor: shell
    commands:
      - cp ${path.join(files, "shot.png")} "$DOCKYARD_ARTIFACTS/shot.png"
      - echo "hello report" > "$DOCKYARD_ARTIFACTS/report.txt"
      - head -c ${MAX_ARTIFACT_BYTES + 1} /dev/zero > "$DOCKYARD_ARTIFACTS/huge.bin"
      - echo hidden > "$DOCKYARD_ARTIFACTS/.hidden"
      - mkdir "$DOCKYARD_ARTIFACTS/sub"
      - ln -s ${outside} "$DOCKYARD_ARTIFACTS/passwd-link"
  collect-docker:
    image: dockyard/busybox:1
    commands:
      - seq 1 2000 > "$DOCKYARD_ARTIFACTS/numbers.txt"
`,
    );
    const run = await waitForRun(farm.client, runId);
    // Skipped files do not fail the stage.
    assert.equal(run.state, "succeeded", JSON.stringify(run.stages.map((s) => [s.name, s.state, s.reason])));
    const log = logsByStage(await runEvents(farm.client, runId)).get("collect") ?? "";
    assert.match(
      log,
      new RegExp(
        `dockyard: artifact huge\\.bin skipped: it has ${MAX_ARTIFACT_BYTES + 1} bytes; the limit is ${MAX_ARTIFACT_BYTES} \\(10 MiB\\)`,
      ),
    );
    assert.match(log, /dockyard: artifact \.hidden skipped: invalid artifact name '\.hidden'/);
    assert.match(log, /dockyard: artifact passwd-link skipped: it is a symbolic link/);
    assert.match(log, /dockyard: artifact sub skipped: it is a directory/);
    // Positive control in the same stage: the files within bounds were stored.
    assert.match(log, /dockyard: artifact shot\.png stored \(300000 bytes, image\/png\): [0-9a-f-]{36}/);
    assert.match(log, /dockyard: artifact report\.txt stored/);

    // The CLI lists them by PIPELINE#N, as a table and as JSON, all stages or one.
    const table = await dockyardCli(farm, ["artifacts", "art#1"]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^ID\s+STAGE\s+ATTEMPT\s+NAME\s+BYTES\s+TYPE\s+CREATED$/m);
    assert.match(table.stdout, /collect\s+1\s+shot\.png\s+300000\s+image\/png/);
    const listed = await dockyardCli(farm, ["artifacts", "art#1", "--json"]);
    assert.equal(listed.code, 0, listed.stderr);
    const all = JSON.parse(listed.stdout) as ArtifactView[];
    assert.deepEqual(
      all.map((a) => [a.stage, a.attempt, a.name, a.size]),
      [
        ["collect", 1, "report.txt", 13],
        ["collect", 1, "shot.png", 300_000],
        ["collect-docker", 1, "numbers.txt", docText.length],
      ],
    );
    const one = await dockyardCli(farm, ["artifacts", runId.slice(0, 8), "collect-docker", "--json"]);
    assert.deepEqual(
      (JSON.parse(one.stdout) as ArtifactView[]).map((a) => a.name),
      ["numbers.txt"],
    );

    // Fetched through the CLI (to a file and to stdout) and over HTTP: the same bytes.
    const byName = (n: string) => all.find((a) => a.name === n)!;
    const out = path.join(tempDir("artifact-get"), "got.png");
    const got = await dockyardCli(farm, ["artifacts", "get", byName("shot.png").id, "-o", out]);
    assert.equal(got.code, 0, got.stderr);
    assert.ok(readFileSync(out).equals(shot), "the screenshot fetched by the CLI is byte-identical");
    const stdout = await dockyardCli(farm, ["artifacts", "get", byName("numbers.txt").id]);
    assert.equal(stdout.stdout, docText);

    const res = await get(`/artifacts/${byName("shot.png").id}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "image/png");
    assert.equal(res.headers.get("content-disposition"), 'attachment; filename="shot.png"');
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(shot), "the screenshot fetched over HTTP is byte-identical");
    const http = (await (await get(`/runs/${runId}/artifacts?stage=collect`)).json()) as { artifacts: ArtifactView[] };
    assert.deepEqual(
      http.artifacts.map((a) => a.name),
      ["report.txt", "shot.png"],
    );
    assert.deepEqual(http.artifacts, all.slice(0, 2), "the HTTP API and the CLI show the same artifacts");
  });

  it("stops at 50 MiB per attempt: the file that would pass it is skipped, naming the total, after the others", async () => {
    const part = 9 * 1024 * 1024;
    const runId = await submit(
      farm.client,
      `
name: many
stages:
  parts:
    executor: shell
    command: 'for i in 1 2 3 4 5 6; do head -c ${part} /dev/zero > "$DOCKYARD_ARTIFACTS/part$i.bin"; done'
`,
    );
    const run = await waitForRun(farm.client, runId);
    assert.equal(run.state, "succeeded");
    const log = logsByStage(await runEvents(farm.client, runId)).get("parts") ?? "";
    assert.match(
      log,
      new RegExp(
        `dockyard: artifact part6\\.bin skipped: its ${part} bytes would bring the attempt's artifacts to ${6 * part} bytes; ` +
          `the limit is ${MAX_ATTEMPT_ARTIFACT_BYTES} \\(50 MiB\\)`,
      ),
    );
    // Positive control: the five before it fit and were stored.
    const listed = (await farm.client.listArtifacts({ runId, stage: "parts" })).artifacts;
    assert.deepEqual(
      listed.map((a) => [a.name, Number(a.size)]),
      [1, 2, 3, 4, 5].map((i) => [`part${i}.bin`, part]),
    );
  });

  it("lets only the agent that holds an attempt upload to it, and checks every bound on the server", async () => {
    const holder = await handAgent(farm, "art-hand");
    const other = await handAgent(farm, "art-other");
    try {
      const runId = await submit(
        farm.client,
        "name: held\nstages:\n  s: { executor: shell, command: 'true', agent: { hand: art-hand }, retry: 0 }\n",
      );
      const a = await waitFor(async () => (await holder.client.pollAssignments({})).assignments[0], {
        message: "the attempt placed on the hand agent",
      });
      const upload = (client: AgentClient, name: string, data: Uint8Array, more: Partial<Assignment> = {}) =>
        client.uploadArtifact({
          attemptId: more.attemptId ?? a.attemptId,
          leaseId: more.leaseId ?? a.leaseId,
          name,
          contentType: "text/plain",
          data,
        });
      const refused = async (p: Promise<unknown>) =>
        refusal(
          await p.then(
            () => assert.fail("not refused"),
            (e: unknown) => e,
          ),
        );

      // Another agent, even with the right lease id, is refused; so is the holder under another lease.
      const stranger = await refused(upload(other.client, "x.txt", Buffer.from("x")));
      assert.equal(stranger.code, status.PERMISSION_DENIED);
      assert.match(
        stranger.details!,
        new RegExp(`agent ${other.accepted.agentId} does not hold attempt ${a.attemptId}`),
      );
      const staleLease = await refused(upload(holder.client, "x.txt", Buffer.from("x"), { leaseId: randomUUID() }));
      assert.equal(staleLease.code, status.PERMISSION_DENIED);
      // Positive control: the holder itself is stored; the same bytes again answer the same id.
      const first = await upload(holder.client, "ok.txt", Buffer.from("one"));
      assert.equal(first.created, true);
      const again = await upload(holder.client, "ok.txt", Buffer.from("one"));
      assert.deepEqual([again.artifactId, again.created], [first.artifactId, false]);
      const changed = await refused(upload(holder.client, "ok.txt", Buffer.from("two")));
      assert.equal(changed.code, status.FAILED_PRECONDITION);
      assert.match(changed.details!, /already has an artifact 'ok\.txt' with other content/);

      // Bounds, each refusal naming its problem.
      const badName = await refused(upload(holder.client, "../etc", Buffer.from("x")));
      assert.deepEqual(badName.code, status.INVALID_ARGUMENT);
      assert.match(badName.details!, /invalid artifact name '\.\.\/etc'/);
      const longName = await refused(upload(holder.client, "n".repeat(129), Buffer.from("x")));
      assert.match(longName.details!, /artifact name is 129 characters; the limit is 128/);
      const badType = await refused(
        holder.client.uploadArtifact({
          attemptId: a.attemptId,
          leaseId: a.leaseId,
          name: "t.txt",
          contentType: "text/html\r\nX-Evil: 1",
          data: Buffer.from("x"),
        }),
      );
      assert.match(badType.details!, /invalid content type/);
      const big = await refused(upload(holder.client, "big.bin", Buffer.alloc(MAX_ARTIFACT_BYTES + 1)));
      assert.match(big.details!, new RegExp(`has ${MAX_ARTIFACT_BYTES + 1} bytes; the limit is ${MAX_ARTIFACT_BYTES}`));
      // At most 100 per attempt: 99 more fit, the next is refused naming the limit.
      for (let i = 1; i < MAX_ATTEMPT_ARTIFACTS; i++) await upload(holder.client, `f${i}.txt`, Buffer.from(String(i)));
      const tooMany = await refused(upload(holder.client, "one-more.txt", Buffer.from("x")));
      assert.equal(tooMany.code, status.INVALID_ARGUMENT);
      assert.match(tooMany.details!, /already has 100 artifacts; the limit is 100/);

      const listed = (await farm.client.listArtifacts({ runId, stage: "" })).artifacts;
      assert.equal(listed.length, MAX_ATTEMPT_ARTIFACTS);
      assert.ok(!listed.some((x) => x.name === "x.txt"), "nothing of the refused uploads was stored");
      await farm.client.cancelRun({ runId });
    } finally {
      holder.client.close();
      other.client.close();
    }
  });

  it("answers bad or unknown ids, runs and stages with 400/404 naming the problem", async () => {
    const bad = await get("/artifacts/not-an-id");
    assert.equal(bad.status, 400);
    assert.match(
      ((await bad.json()) as { error: { message: string } }).error.message,
      /invalid artifact id 'not-an-id': expected a UUID/,
    );
    const unknown = randomUUID();
    const missing = await get(`/artifacts/${unknown}`);
    assert.equal(missing.status, 404);
    assert.match(
      ((await missing.json()) as { error: { message: string } }).error.message,
      new RegExp(`artifact not found: ${unknown}`),
    );
    const noStage = await get("/runs/art%231/artifacts?stage=nope");
    assert.equal(noStage.status, 404);
    assert.match(
      ((await noStage.json()) as { error: { message: string } }).error.message,
      /has no stage 'nope' \(stages: collect, collect-docker\)/,
    );
    const noRun = await get("/runs/art%2399/artifacts");
    assert.equal(noRun.status, 404);
    assert.match(
      ((await noRun.json()) as { error: { message: string } }).error.message,
      /pipeline 'art' has no run #99/,
    );
    const badParam = await get("/runs/art%231/artifacts?stag=collect");
    assert.equal(badParam.status, 400);
    assert.match(
      ((await badParam.json()) as { error: { message: string } }).error.message,
      /unknown query parameter 'stag'/,
    );
    // Positive control: the same run and stage answer.
    assert.equal((await get("/runs/art%231/artifacts?stage=collect")).status, 200);

    const cliBad = await dockyardCli(farm, ["artifacts", "get", "nope"]);
    assert.equal(cliBad.code, 2);
    assert.match(cliBad.stderr, /invalid artifact id 'nope': expected a UUID/);
    const cliMissing = await dockyardCli(farm, ["artifacts", "get", unknown]);
    assert.equal(cliMissing.code, 1);
    assert.match(cliMissing.stderr, new RegExp(`artifact not found: ${unknown}`));
    const cliStage = await dockyardCli(farm, ["artifacts", "art#1", "nope"]);
    assert.equal(cliStage.code, 1);
    assert.match(cliStage.stderr, /has no stage 'nope'/);
  });
});
