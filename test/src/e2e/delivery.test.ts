// Container delivery end to end, on two Docker engines and the private registry:
// a multi-stage build from an uploaded directory, pushed, then pulled by a test
// stage on the other engine; a rebuild on the engine holding the layer cache; a
// temporary environment reached by service name and gone after the run; and the
// errors a user sees for a failing build, a bad Dockerfile and a wrong password.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import type Docker from "dockerode";
import {
  startFarm,
  waitForRun,
  runEvents,
  logsByStage,
  testDocker,
  testDockerB,
  testRegistry,
  DOCKER_HOST_B,
  waitFor,
  projectDir,
  sourceTarOf,
  type Farm,
} from "../index";

const APP = {
  Dockerfile: [
    "ARG BASE=dockyard/busybox:1",
    "FROM $BASE AS build",
    'RUN echo "dependencies resolved" > /deps.txt',
    "COPY src/ /src/",
    "RUN mkdir -p /out && cat /src/*.txt > /out/app.txt",
    "FROM $BASE",
    "COPY --from=build /out/app.txt /app.txt",
    'CMD ["cat", "/app.txt"]',
  ].join("\n"),
  "src/a.txt": "hello from the build\n",
  ".dockerignore": "secret.txt\n",
  "secret.txt": "not in the image\n",
};

describe("container delivery", { concurrency: 1 }, () => {
  let farm: Farm;
  let docker: Docker;
  let dockerB: Docker;
  let registry: Awaited<ReturnType<typeof testRegistry>>;

  before(async () => {
    docker = await testDocker();
    dockerB = await testDockerB();
    registry = await testRegistry();
    farm = await startFarm({
      env: {
        DOCKYARD_REGISTRY: registry.address,
        DOCKYARD_REGISTRY_USERNAME: registry.username,
        DOCKYARD_REGISTRY_PASSWORD_SECRET: "registry-password",
      },
    });
    await farm.client.setSecret({ name: "registry-password", value: Buffer.from(registry.password) });
    await farm.client.setSecret({ name: "wrong-password", value: Buffer.from("not-the-password-at-all") });
    await farm.startAgent({ name: "engine-a", labels: { engine: "a" } });
    await farm.startAgent({ name: "engine-b", labels: { engine: "b" }, dockerHost: DOCKER_HOST_B });
  });
  after(async () => farm?.stop());

  const submit = async (yaml: string, dir: string) =>
    (
      await farm.client.submitRun({
        pipelineYaml: Buffer.from(yaml),
        source: "test",
        sourceTar: await sourceTarOf(dir),
        commit: "0123456789abcdef0123456789abcdef01234567",
      })
    ).run!.id;

  it("builds on one engine, pushes, and a test stage on the other engine pulls the image and reads the build's outputs", async () => {
    const tag = `delivery-${Date.now()}`;
    const dir = projectDir(APP);
    const runId = await submit(
      `
name: deliver
stages:
  image:
    type: build
    tags: ["${tag}:\${{ DOCKYARD_RUN_NUMBER }}"]
    push: true
    agent: { engine: a }
  check:
    type: test
    needs: [image]
    image: \${{ stages.image.outputs.image }}
    command: "cat /app.txt; test ! -e /secret.txt; echo built-from \${{ DOCKYARD_COMMIT }}"
    agent: { engine: b }
`,
      dir,
    );
    const localRef = `${registry.address}/${tag}:1`;
    await assert.rejects(dockerB.getImage(localRef).inspect(), "engine b does not have the image before the run");
    const run = await waitForRun(farm.client, runId, 180_000);
    const logs = logsByStage(await runEvents(farm.client, runId));
    assert.equal(run.state, "succeeded", JSON.stringify([...logs]));
    const [build, check] = run.stages;
    assert.equal(build!.type, "build");
    assert.equal(build!.outputs?.image?.ref, localRef);
    assert.match(build!.outputs?.image?.digest ?? "", /^sha256:[0-9a-f]{64}$/);
    assert.ok(Number(build!.outputs?.image?.sizeBytes) > 0 && (build!.outputs?.image?.layers ?? 0) > 0);
    assert.match(logs.get("image") ?? "", /dockyard: built 127\.0\.0\.1:5000\/delivery-\d+:1 .* pushed sha256:/);
    assert.match(logs.get("check") ?? "", /hello from the build\nbuilt-from 0123456789abcdef/);
    await dockerB.getImage(localRef).inspect(); // pulled by the test stage
  });

  it("a rebuild of the same image lands on the engine with its layer cache and reuses its layers", async () => {
    const tag = `cached-${Date.now()}`;
    const dir = projectDir(APP);
    const yaml = `name: cached\nstages:\n  image: { type: build, tags: ["${tag}:1"] }\n`;
    const first = await waitForRun(farm.client, await submit(yaml, dir), 120_000);
    assert.equal(first.state, "succeeded");
    const builtOn = first.stages[0]!.agentId;
    writeFileSync(path.join(dir, "src/b.txt"), "one more line\n");
    const secondId = await submit(yaml, dir);
    const second = await waitForRun(farm.client, secondId, 120_000);
    assert.equal(second.state, "succeeded");
    assert.equal(second.stages[0]!.agentId, builtOn, "placed on the agent that built it last");
    assert.match(logsByStage(await runEvents(farm.client, secondId)).get("image") ?? "", /CACHED/);
  });

  it("a build that becomes ready after its needs (placed by the claim, not the submit) also lands on the engine with its layer cache", async () => {
    const tag = `claimed-${Date.now()}`;
    const dir = projectDir(APP);
    // On each engine in turn: whichever one the claim would pick without the affinity, one of the two rounds would see
    // it.
    for (const engine of ["a", "b"]) {
      const first = await waitForRun(
        farm.client,
        await submit(
          `name: claimed\nstages:\n  image: { type: build, tags: ["${tag}:1"], agent: { engine: ${engine} } }\n`,
          dir,
        ),
        120_000,
      );
      assert.equal(first.state, "succeeded");
      const yaml = `name: claimed\nstages:\n  prep: { image: dockyard/busybox:1, command: "true" }\n  image: { type: build, needs: [prep], tags: ["${tag}:2"] }\n`;
      const second = await waitForRun(farm.client, await submit(yaml, dir), 120_000);
      assert.equal(second.state, "succeeded");
      const image = second.stages.find((s) => s.name === "image")!;
      assert.equal(image.agentId, first.stages[0]!.agentId, `after a build on engine ${engine}`);
      assert.equal(image.reason, "");
    }
  });

  it("a build kept away from the agent with its layer cache says why, while it runs and after", async () => {
    const tag = `away-${Date.now()}`;
    const dir = projectDir(APP);
    const on = (engine: string) =>
      `name: away\nstages:\n  image: { type: build, tags: ["${tag}:1"], agent: { engine: ${engine} } }\n`;
    const first = await waitForRun(farm.client, await submit(on("a"), dir), 120_000);
    assert.equal(first.state, "succeeded");
    assert.equal(first.stages[0]!.reason, "", "on its cache agent: no remark");
    const second = await waitForRun(farm.client, await submit(on("b"), dir), 120_000);
    assert.equal(second.state, "succeeded");
    assert.equal(
      second.stages[0]!.reason,
      "built without its layer cache: agent engine-a, which built this image last, does not match the stage's labels or capabilities",
    );
  });

  it("a build secret from the secret store reaches RUN --mount=type=secret, masked in the log and absent from the image", async () => {
    const token = `dyk_build_${Date.now()}_value`;
    await farm.client.setSecret({ name: "build-token", value: Buffer.from(token) });
    const dir = projectDir({
      Dockerfile: [
        "FROM dockyard/busybox:1",
        // Unique step text: BuildKit's cache key leaves the secret out, so a rerun would be CACHED.
        `RUN --mount=type=secret,id=token echo "build ${Date.now()}: token is $(cat /run/secrets/token)" && wc -c < /run/secrets/token > /length`,
      ].join("\n"),
    });
    const tag = `secret-build-${Date.now()}:1`;
    const runId = await submit(
      // On engine a: the image is looked for there (unpinned, a busy engine-a sends it to b).
      `name: secret-build\nstages:\n  image: { type: build, tags: ["${tag}"], secrets: { token: build-token }, agent: { engine: a } }\n`,
      dir,
    );
    const run = await waitForRun(farm.client, runId, 120_000);
    const log = logsByStage(await runEvents(farm.client, runId)).get("image") ?? "";
    assert.equal(run.state, "succeeded", log);
    assert.match(log, /token is \*\*\*/, "the value is masked where the step printed it");
    assert.ok(!log.includes(token));
    const image = await docker.getImage(tag).get();
    const chunks: Buffer[] = [];
    for await (const c of image) chunks.push(c as Buffer);
    const saved = Buffer.concat(chunks);
    assert.ok(saved.length > 0 && !saved.includes(Buffer.from(token)), "no layer holds the secret");
    const missing = await farm.client
      .submitRun({
        pipelineYaml: Buffer.from(
          `name: no-secret\nstages:\n  image: { type: build, tags: ["x:1"], secrets: { token: nosuch-secret } }\n`,
        ),
        source: "test",
        sourceTar: await sourceTarOf(dir),
      })
      .catch((err: Error) => err);
    assert.match(String(missing), /nosuch-secret/, "a missing secret is refused at submit, by name");
  });

  it("a temporary environment comes up healthy, a test container reaches it by service name, and it is gone after the run", async () => {
    const dir = projectDir({
      "env.yml": [
        "services:",
        "  web:",
        "    image: dockyard/busybox:1",
        '    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]',
        "    ports: ['8080']",
        "    volumes: ['site:/www']",
        "    healthcheck: { test: ['CMD', 'wget', '-q', '-O', '/dev/null', 'http://127.0.0.1:8080/'], interval: 1s, retries: 20 }",
        "volumes:",
        "  site: {}",
      ].join("\n"),
      "seed/index.html": "seeded page\n",
    });
    const runId = await submit(
      `
name: envs
stages:
  env:
    type: deploy
    template: env.yml
    seed: { site: seed }
    ttl: 10m
    agent: { engine: a }
  e2e:
    type: test
    needs: [env]
    environment: env
    image: dockyard/busybox:1
    command: "wget -q -O - http://\${{ stages.env.outputs.web.address }}/index.html"
`,
      dir,
    );
    const run = await waitForRun(farm.client, runId, 180_000);
    const logs = logsByStage(await runEvents(farm.client, runId));
    assert.equal(run.state, "succeeded", JSON.stringify([...logs]));
    assert.match(logs.get("e2e") ?? "", /seeded page/);
    const envId = run.stages[0]!.outputs?.values.env_id ?? "";
    assert.match(envId, /^env-/);
    await waitFor(
      async () =>
        (await docker.listContainers({ all: true, filters: { label: [`dockyard.env=${envId}`] } })).length === 0,
      {
        timeoutMs: 30_000,
        message: "environment removed after its run ended",
      },
    );
  });

  it("a failing build, a bad Dockerfile, a missing base image, a wrong registry password and an unreachable registry each fail the stage with the message a user needs", async () => {
    const cases: [string, Record<string, string>, string, RegExp][] = [
      ["failing", { Dockerfile: "FROM dockyard/busybox:1\nRUN exit 3\n" }, "", /failed with exit code 3/],
      [
        "invalid",
        { Dockerfile: "FROM dockyard/busybox:1\nCOPPY a b\n" },
        "",
        /Dockerfile is invalid: .*unknown instruction: COPPY/i,
      ],
      [
        "no-base",
        { Dockerfile: "FROM nosuch/base:1\n" },
        "",
        /base image 'nosuch\/base:1' is neither local nor in a reachable registry/,
      ],
      [
        "password",
        APP,
        `registry: { address: ${registry.address}, username: ${registry.username}, password: wrong-password }`,
        /wrong username or password/,
      ],
      ["unreachable", APP, "registry: { address: 127.0.0.1:5999 }", /registry 127\.0\.0\.1:5999 is unreachable/],
    ];
    for (const [name, files, extra, expected] of cases) {
      const runId = await submit(
        `name: ${name}\n${extra}\nstages:\n  image: { type: build, tags: ["err-${name}:1"], push: ${extra ? "true" : "false"} }\n`,
        projectDir(files),
      );
      const run = await waitForRun(farm.client, runId, 120_000);
      assert.equal(run.state, "failed", name);
      assert.match(logsByStage(await runEvents(farm.client, runId)).get("image") ?? "", expected, name);
    }
  });
});
