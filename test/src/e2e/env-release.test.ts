// A temporary environment is one of the resources an agent holds, reported whole in its
// heartbeat: `dockyard envs` lists what the agents report, and the heartbeat's answer names
// the runs that ended, so an environment goes when its run ends even if the NATS run-ended
// notice never arrives (here NATS is down), while a failed run's keep_on_failure one stays.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import type Docker from "dockerode";
import { downEnvironment } from "@dockyard/agent";
import { tempDir } from "@dockyard/testkit";
import { OutageFarm, projectDir, removeRunLeftovers, sourceTarOf, testDocker, waitFor } from "../index";

const TEMPLATE = [
  "services:",
  "  web:",
  "    image: dockyard/busybox:1",
  '    command: ["httpd", "-f", "-p", "8080", "-h", "/"]',
  "    ports: ['8080']",
].join("\n");

async function envContainers(docker: Docker, runId: string): Promise<number> {
  return (await docker.listContainers({ all: true, filters: { label: [`dockyard.run=${runId}`, "dockyard.env"] } }))
    .length;
}

describe("temporary environments are held resources", { timeout: 240_000 }, () => {
  it("listed from the agents' reports, removed over the heartbeat when their run ends with NATS down; a failed run's kept one stays", async () => {
    const docker = await testDocker();
    const farm = new OutageFarm();
    const release = tempDir("env-release");
    const runIds: string[] = [];
    const submit = async (name: string, held: string, keep: boolean) => {
      const yaml = `
name: ${name}
stages:
  env: { type: deploy, template: env.yml, ttl: 30m, keep_on_failure: ${keep}, agent: { role: box } }
  held:
    executor: shell
    agent: { role: sh }
    # Ends only once the test released it: after NATS is down.
    command: while [ ! -e ${release}/go ]; do sleep 0.1; done; ${held}
`;
      const res = await farm.client.submitRun(
        {
          pipelineYaml: Buffer.from(yaml),
          source: "test",
          sourceTar: await sourceTarOf(projectDir({ "env.yml": TEMPLATE })),
        },
        { timeoutMs: 10_000 },
      );
      runIds.push(res.run!.id);
      return res.run!.id;
    };
    try {
      await farm.start();
      farm.spawnAgent("sh", { executor: "shell", labels: { role: "sh" } });
      farm.spawnAgent("box", { executor: "docker", labels: { role: "box" } });
      const box = farm.agents[1]!;
      await farm.waitAgentsOnline(2);
      const passing = await submit("passing", "true", false);
      const failing = await submit("failing", "exit 3", true);

      // Both environments come up, and the list is what the docker agent reports of them.
      const listed = await waitFor(
        async () => {
          const { environments } = await farm.client.listEnvironments({}, { timeoutMs: 5000 });
          return environments.length === 2 ? environments : undefined;
        },
        { timeoutMs: 90_000, message: "dockyard envs to list both environments" },
      );
      const byRun = new Map(listed.map((e) => [e.runId, e]));
      for (const [runId, name] of [
        [passing, "passing"],
        [failing, "failing"],
      ] as const) {
        const e = byRun.get(runId);
        assert.ok(e, `the ${name} run's environment is listed`);
        assert.equal(e.owner, `${name}#1`);
        assert.equal(e.stageName, "env");
        assert.equal(e.agentName, "box");
        assert.deepEqual(e.services, { web: "web:8080" });
        assert.ok(e.createdAtMs > 0n && e.expiresAtMs > e.createdAtMs, "created and expiry times");
        assert.equal(await envContainers(docker, runId), 1);
      }

      await farm.killNats();
      writeFileSync(path.join(release, "go"), "");
      await waitFor(
        async () => {
          const { rows } = await farm.pg.query<{ id: string; state: string }>(
            "SELECT id, state FROM runs WHERE id = ANY($1)",
            [[passing, failing]],
          );
          return (
            rows.find((r) => r.id === passing)?.state === "succeeded" &&
            rows.find((r) => r.id === failing)?.state === "failed"
          );
        },
        { timeoutMs: 60_000, message: "one run to succeed and one to fail over gRPC while NATS is down" },
      );
      // Heartbeats are 300 ms here: a few of them, not NATS' return.
      await waitFor(async () => (await envContainers(docker, passing)) === 0, {
        timeoutMs: 15_000,
        message: "the succeeded run's environment removed",
      });
      assert.equal(farm.nats, null, "NATS was down all along");
      await waitFor(
        async () => {
          const { environments } = await farm.client.listEnvironments({}, { timeoutMs: 5000 });
          return environments.length === 1 && environments[0]!.runId === failing;
        },
        { message: "dockyard envs to list only the kept environment" },
      );
      // The same answers named the failed run: its environment is kept, and said so once.
      assert.equal(await envContainers(docker, failing), 1, "the kept environment is still there");
      const said = () =>
        readFileSync(box.logFile, "utf8")
          .split("\n")
          .filter((l) => l.includes("environment kept after a failed run")).length;
      await waitFor(() => said() === 1, { message: "the agent to say it keeps the failed run's environment" });
      const heartbeats = async () =>
        Number(
          (await farm.pg.query<{ at: Date }>("SELECT last_heartbeat_at AS at FROM agents WHERE name = 'box'")).rows[0]!
            .at,
        );
      const seen = await heartbeats();
      await waitFor(async () => (await heartbeats()) > seen + 1000, { message: "a few more heartbeats" });
      assert.equal(said(), 1, "kept once, not again on every answer");
      assert.equal(await envContainers(docker, failing), 1);
    } finally {
      await farm.stop();
      for (const runId of runIds) {
        for (const env of await docker.listNetworks({ filters: { label: [`dockyard.run=${runId}`] } }))
          await downEnvironment(docker, env.Labels?.["dockyard.env"] ?? "");
        await removeRunLeftovers(docker, runId);
      }
      for (const d of [release, farm.dataDir, ...farm.agents.map((a) => path.dirname(a.logFile))])
        rmSync(d, { recursive: true, force: true });
    }
  });
});
