// A farm of hosts on one machine (netns-farm.ts): the control host (servers, NATS, the
// machine's Postgres) and three agent hosts, each a network namespace whose one link is a
// veth pair to the control host, with one agent in it: "dock" with a Docker engine of its
// own, "sh1" and "sh2" with the shell executor. The agents reach the control host only over
// their link (their 127.0.0.1 is their own), and a DAG whose stages are pinned to the hosts
// by label runs each stage on its host: the shell stages print the network namespace they
// ran in, the attempts name the agents, and the docker stage's container is in the event
// log of dock's engine and not in the shared engine's (positive control: the same query on
// dock's engine finds it).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { statSync } from "node:fs";
import { logsByStage, runEvents, testDocker, waitFor, type RunClient } from "../index";
import { NetnsFarm, stopFarms } from "../helpers/netns-farm";
import { engineRunEvents } from "../helpers/netns-docker";

const farms: NetnsFarm[] = [];
let farm: NetnsFarm | undefined;

before(async () => {
  farm = new NetnsFarm(
    [
      { name: "dock", executor: "docker" },
      { name: "sh1", executor: "shell" },
      { name: "sh2", executor: "shell" },
    ],
    { registry: farms },
  );
  await farm.start();
  await farm.spawnAll();
});

after(() => stopFarms(farms));

/** Whether a TCP connection from inside namespace `ns` to address:port opens (bash's /dev/tcp, 3 s at most). */
function connects(ns: string, address: string, port: number): boolean {
  try {
    execFileSync("ip", ["netns", "exec", ns, "timeout", "3", "bash", "-c", `exec 3<>/dev/tcp/${address}/${port}`], {
      stdio: "ignore",
    });
    return true;
  } catch {
    return false;
  }
}

const port = (hostPort: string) => Number(hostPort.slice(hostPort.lastIndexOf(":") + 1));

describe(
  "a farm of hosts: three agent hosts, each a network namespace with one link to the control host",
  {
    timeout: 240_000,
  },
  () => {
    it("each agent runs in its own host's namespace and reaches the servers and NATS only over its link", () => {
      const f = farm!;
      assert.deepEqual(
        f.agentNamespaces(),
        Object.fromEntries(f.hosts.map((h) => [h.spec.name, h.ns.name])),
        "one agent per host",
      );
      const grpc = port(f.control.servers[0]!.grpc);
      for (const { ns } of f.hosts) {
        // Positive control: the link address answers, so a refusal below is not a broken probe.
        assert.ok(connects(ns.name, ns.rootAddress, grpc), `${ns.name} reaches the server over its link`);
        assert.ok(connects(ns.name, ns.rootAddress, f.control.natsPort), `${ns.name} reaches NATS over its link`);
        assert.ok(!connects(ns.name, "127.0.0.1", grpc), `${ns.name}'s 127.0.0.1 is not the control host's`);
        assert.ok(!connects(ns.name, "127.0.0.1", f.control.natsPort));
        assert.ok(!connects(ns.name, "127.0.0.1", 5432), "nor is Postgres there");
        const routes = execFileSync("ip", ["-n", ns.name, "-4", "route"], { encoding: "utf8" }).trim().split("\n");
        assert.equal(routes.length, 1, `one route, the link's: ${routes.join(" | ")}`);
        assert.match(routes[0]!, new RegExp(`dev ${ns.innerVeth} `));
      }
    });

    it("a DAG pinned by labels runs each stage on its host, the docker stage on that host's engine", async () => {
      const f = farm!;
      const since = Math.floor(Date.now() / 1000) - 1;
      const netns = 'echo "netns $(readlink /proc/self/ns/net)"';
      const yaml = [
        "name: hosts",
        "stages:",
        `  first: { executor: shell, agent: { host: sh1 }, command: '${netns}' }`,
        `  box: { image: dockyard/busybox:1, agent: { host: dock }, needs: [first], command: 'echo in a container' }`,
        `  side: { executor: shell, agent: { host: sh2 }, needs: [first], command: '${netns}' }`,
        `  last: { executor: shell, agent: { host: sh1 }, needs: [box, side], command: '${netns}' }`,
      ].join("\n");
      const runId = (
        await f.control.client.submitRun(
          { pipelineYaml: Buffer.from(yaml), source: "test:hosts.yml" },
          { timeoutMs: 10_000 },
        )
      ).run!.id;
      const state = await waitFor(
        async () => {
          const s = (await f.control.pg.query<{ state: string }>("SELECT state FROM runs WHERE id = $1", [runId]))
            .rows[0]?.state;
          return s && ["succeeded", "failed", "errored", "canceled"].includes(s) ? s : undefined;
        },
        { message: `run ${runId} to end`, timeoutMs: 120_000, intervalMs: 250 },
      );
      const attempts = (
        await f.control.pg.query<{ stage: string; number: number; state: string; agent: string; agent_id: string }>(
          `SELECT s.name AS stage, a.number, a.state, g.name AS agent, a.agent_id, a.id FROM attempts a
         JOIN stages s ON s.id = a.stage_id JOIN agents g ON g.id = a.agent_id WHERE a.run_id = $1 ORDER BY s.name`,
          [runId],
        )
      ).rows;
      const info = JSON.stringify(attempts);
      assert.equal(state, "succeeded", info);
      const agentIds = Object.fromEntries(
        (await f.control.pg.query<{ name: string; id: string }>("SELECT name, id FROM agents")).rows.map((r) => [
          r.name,
          r.id,
        ]),
      );
      assert.deepEqual(
        attempts.map((a) => [a.stage, a.number, a.state, a.agent_id]),
        [
          ["box", 1, "succeeded", agentIds.dock],
          ["first", 1, "succeeded", agentIds.sh1],
          ["last", 1, "succeeded", agentIds.sh1],
          ["side", 1, "succeeded", agentIds.sh2],
        ],
        info,
      );
      // The shell stages ran in their hosts' namespaces (the kernel's answer, not the agents' word).
      const logs = logsByStage(await runEvents(f.control.client as unknown as RunClient, runId));
      const nsOf = (host: string) => `netns net:[${statSync(`/run/netns/${f.host(host).ns.name}`).ino}]\n`;
      assert.equal(logs.get("first"), nsOf("sh1"));
      assert.equal(logs.get("side"), nsOf("sh2"));
      assert.equal(logs.get("last"), nsOf("sh1"));
      assert.equal(logs.get("box"), "in a container\n");
      // The container ran on dock's engine, not on the shared one.
      const own = await f.host("dock").engine!.runEvents(runId, since);
      assert.ok(
        own.some((e) => e.status === "start"),
        `dock's engine started the run's container: ${JSON.stringify(own)}`,
      );
      const shared = await engineRunEvents(await testDocker(), runId, since);
      assert.deepEqual(shared, [], "the shared engine saw no container of this run");
    });
  },
);
