// Each agent keeps its engine's build cache within DOCKYARD_BUILD_CACHE_BYTES: after a
// build, the cache beyond the budget is pruned, and the size each agent reports is the
// dockyard_build_cache_bytes gauge. An agent with room keeps its cache (a rebuild reuses
// it), so a test that sees the cache gone would also see it kept.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type Docker from "dockerode";
import {
  startFarm,
  waitForRun,
  runEvents,
  logsByStage,
  testDocker,
  testDockerB,
  DOCKER_HOST_B,
  waitFor,
  type Farm,
} from "../index";
import { projectDir, sourceTarOf } from "../index";

const DOCKERFILE = [
  "FROM dockyard/busybox:1",
  // A cache mount's contents live in the build cache, not in a layer.
  "RUN --mount=type=cache,target=/cache dd if=/dev/zero of=/cache/blob bs=1024 count=2048 2>/dev/null; echo filled",
  "RUN echo built > /built.txt",
].join("\n");

/**
 * Bytes of the engine's cache-mount records (image layers' records stay while the images do).
 * The engine runs one disk-usage report at a time, and the agents ask for theirs too: retried.
 */
async function cacheMountBytes(docker: Docker): Promise<number> {
  for (let tries = 1; ; tries++) {
    try {
      const df = (await docker.df()) as { BuildCache?: { Size?: number; Type?: string }[] | null };
      return (df.BuildCache ?? []).filter((r) => r.Type === "exec.cachemount").reduce((n, r) => n + (r.Size ?? 0), 0);
    } catch (err) {
      if (tries >= 100 || !/disk usage operation is already running/.test(String(err))) throw err;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

describe("build cache budget", () => {
  let farm: Farm;
  let docker: Docker;
  let dockerB: Docker;

  before(async () => {
    docker = await testDocker();
    dockerB = await testDockerB();
    farm = await startFarm();
    await farm.startAgent({
      name: "roomy",
      labels: { engine: "a" },
      env: { DOCKYARD_BUILD_CACHE_BYTES: String(10 * 1024 ** 3) },
    });
    await farm.startAgent({
      name: "tight",
      labels: { engine: "b" },
      dockerHost: DOCKER_HOST_B,
      env: { DOCKYARD_BUILD_CACHE_BYTES: "1" },
    });
  });
  after(async () => farm?.stop());

  const build = async (engine: string, tag: string) => {
    const yaml = `name: cache-${engine}\nstages:\n  image: { type: build, tags: ["${tag}"], agent: { engine: ${engine} } }\n`;
    const run = (
      await farm.client.submitRun({
        pipelineYaml: Buffer.from(yaml),
        source: "test",
        sourceTar: await sourceTarOf(projectDir({ Dockerfile: DOCKERFILE })),
      })
    ).run!;
    const ended = await waitForRun(farm.client, run.id, 120_000);
    assert.equal(ended.state, "succeeded");
    return logsByStage(await runEvents(farm.client, run.id)).get("image") ?? "";
  };

  it("prunes an agent's cache beyond its budget after a build, keeps one within it, and reports both sizes as a gauge", async () => {
    const tag = `cache-budget-${Date.now()}:1`;
    await build("a", tag);
    const again = await build("a", tag);
    assert.match(again, /CACHED/, "within its budget, the cache serves the rebuild");
    assert.ok((await cacheMountBytes(docker)) >= 2 * 1024 * 1024, "engine a keeps the 2 MiB cache mount");

    await build("b", tag);
    await waitFor(async () => (await cacheMountBytes(dockerB)) === 0, {
      timeoutMs: 30_000,
      message: "engine b's cache mount pruned (budget: 1 byte)",
    });
    const rebuilt = await build("b", tag);
    assert.match(rebuilt, /filled/, "the pruned cache is rebuilt: the RUN step ran again");

    await waitFor(
      async () => {
        const text = await (await fetch(`${farm.server.httpUrl}/metrics`)).text();
        const roomy = Number(/dockyard_build_cache_bytes\{agent="roomy"\} (\d+)/.exec(text)?.[1] ?? -1);
        const tight = Number(/dockyard_build_cache_bytes\{agent="tight"\} (\d+)/.exec(text)?.[1] ?? -1);
        return roomy >= 2 * 1024 * 1024 && tight >= 0 && tight < 1024 * 1024;
      },
      { timeoutMs: 30_000, message: "dockyard_build_cache_bytes shows roomy's cache and tight's pruned one" },
    );
  });
});
