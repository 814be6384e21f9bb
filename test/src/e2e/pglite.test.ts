// With DATABASE_URL unset the server keeps its state in an embedded PGlite
// database in the data directory, with the same migrations: a single-node
// farm needs no database server, and the state survives a restart.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { Registry } from "prom-client";
import { clientTlsCredentials, createClient, RunService } from "@dockyard/proto";
import { startServer, loadConfig, type ServerHandle } from "@dockyard/control-plane";
import { Agent, loadAgentConfig, chooseExecutors } from "@dockyard/agent";
import { NATS_URL, testLog, waitFor, waitForRun, runEvents, logsByStage, submit, freePort } from "../index";
import { tempDir } from "@dockyard/testkit";

describe("embedded PGlite storage", () => {
  const dataDir = tempDir("pglite");
  const prefix = `pgl${randomBytes(3).toString("hex")}`;
  const joinToken = `dyj_${randomBytes(12).toString("hex")}`;
  const apiToken = `dya_${randomBytes(12).toString("hex")}`;
  let server: ServerHandle | null = null;
  let agent: Agent | null = null;
  after(async () => {
    await agent?.abort();
    await server?.stop();
  });
  /** An API client of the server the first test left running (the later tests build on it). */
  const clientOfFirstServer = () => {
    assert.ok(server, "the server of the first test runs");
    const md = new grpc.Metadata();
    md.set("authorization", `Bearer ${apiToken}`);
    return createClient(RunService, server.grpcAddress, {
      metadata: () => md,
      credentials: clientTlsCredentials(server.pki.caPem),
    });
  };

  it("runs a pipeline and keeps it across a server restart", async () => {
    const env = {
      DOCKYARD_DATA_DIR: dataDir,
      DOCKYARD_NATS_URL: NATS_URL,
      DOCKYARD_NATS_PREFIX: prefix,
      DOCKYARD_GRPC_LISTEN: `127.0.0.1:${await freePort()}`,
      DOCKYARD_HTTP_LISTEN: "127.0.0.1:0",
      DOCKYARD_JOIN_TOKEN: joinToken,
      DOCKYARD_API_TOKEN: apiToken,
    };
    const config = loadConfig(env);
    assert.equal(config.databaseUrl, null);
    server = await startServer(config, { log: testLog(), registry: new Registry() });
    assert.equal(server.db.kind, "pglite");
    const md = () => {
      const m = new grpc.Metadata();
      m.set("authorization", `Bearer ${apiToken}`);
      return m;
    };
    // The CA made at first start stays across the restart: clients and the agent keep trusting it.
    const credentials = () => clientTlsCredentials(server!.pki.caPem);
    const client = createClient(RunService, server.grpcAddress, { metadata: md, credentials: credentials() });
    const agentConfig = loadAgentConfig({
      DOCKYARD_SERVER_URL: server.grpcAddress,
      DOCKYARD_NATS_URL: NATS_URL,
      DOCKYARD_NATS_PREFIX: prefix,
      DOCKYARD_JOIN_TOKEN: `${joinToken}.${server.pki.caFingerprint}`,
      DOCKYARD_AGENT_NAME: "lite",
      DOCKYARD_AGENT_EXECUTOR: "shell",
      DOCKYARD_AGENT_STATE_DIR: tempDir("lite-agent"),
    });
    agent = new Agent(agentConfig, { log: testLog(), executors: await chooseExecutors(agentConfig) });
    await agent.start();
    const runId = await submit(
      client,
      "name: lite\nstages:\n  a: { executor: shell, command: 'echo one' }\n  b: { executor: shell, needs: [a], command: 'echo two' }\n",
    );
    const run = await waitForRun(client, runId, 60_000);
    assert.equal(run.state, "succeeded");

    await agent.abort();
    agent = null;
    await server.stop();
    const fingerprint = server.pki.caFingerprint;
    server = await startServer(config, { log: testLog(), registry: new Registry() });
    assert.equal(server.pki.caFingerprint, fingerprint, "the CA survives a restart");
    const again = createClient(RunService, server.grpcAddress, { metadata: md, credentials: credentials() });
    const { run: stored } = await again.getRun({ runId });
    assert.equal(stored?.state, "succeeded");
    const logs = logsByStage(await runEvents(again, runId));
    assert.deepEqual([logs.get("a"), logs.get("b")], ["one\n", "two\n"]);
    client.close();
    again.close();
  });

  it("runs approvals on PGlite too: a decision, and a deadline (timers and signals are plain tables)", async () => {
    const client = clientOfFirstServer();
    try {
      // Every caller has role admin until users and roles exist (transport/grpc/caller.ts).
      const decided = await submit(
        client,
        'name: lite-gate\nstages:\n  gate: { type: approval, approvers: ["role:admin"], timeout: 1h }\n',
      );
      await waitFor(
        async () => (await client.getRun({ runId: decided })).run?.stages[0]?.reason.startsWith("waiting for approval"),
        {
          message: "the approval to wait",
        },
      );
      await client.decideApproval({ runId: decided, stage: "gate", approve: true, comment: "on pglite" });
      assert.equal((await waitForRun(client, decided)).state, "succeeded");
      const timed = await submit(
        client,
        "name: lite-late\nstages:\n  gate: { type: approval, approvers: [x], timeout: 1s, on_timeout: approve }\n",
      );
      const run = await waitForRun(client, timed, 10_000);
      assert.equal(run.state, "succeeded");
      assert.match(run.stages[0]!.reason, /^no decision by .* UTC: approved \(on_timeout: approve\)$/);
    } finally {
      client.close();
    }
  });

  it("changes channels over HTTP on PGlite too: row, keys and audit entry in one transaction", async () => {
    assert.ok(server, "the server of the first test runs");
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${server!.httpUrl}/api/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${apiToken}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const added = await call("POST", "/channels", { name: "lite-hook", type: "webhook", url: "https://203.0.113.7/x" });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    const again = await call("POST", "/channels", { name: "lite-hook", type: "webhook", url: "https://203.0.113.7/x" });
    assert.equal(again.status, 409, "the name is taken: nothing changes, nothing is logged");
    const rotated = await call("POST", "/channels/lite-hook/rotate");
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    assert.equal((await call("DELETE", "/channels/lite-hook")).status, 200);
    const entries = (await call("GET", "/audit?limit=100")).body.entries as {
      actor: string;
      action: string;
      target: string;
    }[];
    assert.deepEqual(
      entries.filter((e) => e.target === "lite-hook").map((e) => [e.actor, e.action]),
      [
        ["admin", "channel.added"],
        ["admin", "channel.key_rotated"],
        ["admin", "channel.removed"],
      ],
    );
  });

  it("ticks a schedule whose pipeline names a channel and a secret on PGlite (its checks read in the tick's transaction)", async () => {
    const client = clientOfFirstServer();
    try {
      // On PGlite the pool is one connection: a check reading outside the tick's transaction waited for it forever.
      await client.addChannel({ name: "lite-sched", type: "webhook", url: "https://203.0.113.7/x" });
      await client.setSecret({ name: "lite-secret", value: Buffer.from("lite-s3cret-value") });
      const yaml = [
        "name: lite-sched",
        "notify:",
        "  - on: [alert]",
        "    channels: [lite-sched]",
        "stages:",
        "  a: { executor: shell, command: 'echo $T', env: { T: { secret: lite-secret } } }",
        "",
      ].join("\n");
      await client.createSchedule({
        name: "lite",
        cron: "*/10 * * * * *",
        pipelineYaml: Buffer.from(yaml),
        source: "test:lite.yml",
      });
      const ticks = await waitFor(
        async () => {
          const { ticks } = await client.listScheduleTicks({ name: "lite", limit: 10 }, { timeoutMs: 5000 });
          return ticks.length > 0 ? ticks : null;
        },
        { timeoutMs: 30_000, intervalMs: 500, message: "the schedule's first tick" },
      );
      assert.equal(ticks[0]!.skipped, "", "the tick made a run");
      assert.ok(ticks[0]!.runId, "the tick names its run");
      // The database still answers: the run is there, queued for an agent (none runs now).
      const { run } = await client.getRun({ runId: ticks[0]!.runId }, { timeoutMs: 5000 });
      assert.equal(run?.name, "lite-sched");
    } finally {
      client.close();
    }
  });
});
