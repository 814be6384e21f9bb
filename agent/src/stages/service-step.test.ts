// The service-step handler as the runner drives it (an Assignment in, a StageExit out), on
// the real engine and HAProxy: a roll puts the step's secrets in the replicas' env without
// writing them to the log and outputs the service's address; a watch succeeds; a step that
// asks for another port than the running proxy's fails with a message, not an exception.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { AssignmentSchema, type Assignment } from "@dockyard/proto";
import { getBody } from "@dockyard/testkit";
import type { StageTools } from "./kind";
import type { AttemptSpec } from "../executor/types";
import { serviceStep } from "./service-step";
import { freePort, REPLICA_PORT, rollFixture, target, type RollFixture } from "../services/roll-fixtures";
import { listReplicas } from "../services/replica";

const SECRET = "s3cret-value-for-the-replica";

describe("the service-step handler", { timeout: 120_000 }, () => {
  let f: RollFixture;
  let tools: StageTools;
  let port: number;

  const assignment = (action: string, over: { proxyPort?: number; watchMs?: bigint } = {}): Assignment => {
    const t = target(1);
    return create(AssignmentSchema, {
      attemptId: "00000000-0000-4000-8000-000000000001",
      runId: "00000000-0000-4000-8000-000000000002",
      stageName: "web@host",
      spec: {
        secrets: [{ env: "API_KEY", value: Buffer.from(SECRET) }],
        kind: {
          case: "serviceStep",
          value: {
            action,
            service: f.service,
            target: {
              revision: 1,
              image: t.image,
              env: t.env,
              command: t.command!,
              port: REPLICA_PORT,
              health: { httpPath: "/health", httpStatus: 200, intervalMs: 100n, timeoutMs: 1000n, minHealthyMs: 200n },
              stopGraceMs: 1000n,
            },
            replicas: 1,
            proxyPort: over.proxyPort ?? port,
            maxParallel: 1,
            healthTimeoutMs: 20_000n,
            drainTimeoutMs: 5000n,
            keepOthers: false,
            watchMs: over.watchMs ?? 0n,
          },
        },
      },
    });
  };
  const runStep = async (a: Assignment) => {
    const handle = await serviceStep.start(a, {} as AttemptSpec, tools, new AbortController().signal);
    let log = "";
    for await (const chunk of handle.output) log += chunk.data.toString("utf8");
    return { exit: await handle.wait(), log };
  };

  before(async () => {
    f = await rollFixture();
    port = Number(f.proxy.address.split(":")[1]);
    // Only what service-step uses: the engine and the host's services (read needs the run's sources).
    tools = { docker: f.docker, services: f.host } as unknown as StageTools;
  });
  after(async () => {
    await f?.cleanup();
  });

  it("rolls: the secret reaches the replica's env but not the log; outputs the address, revision and replicas", async () => {
    const { exit, log } = await runStep(assignment("roll"));
    assert.equal(exit.exitCode, 0, log);
    assert.deepEqual(exit.outputs?.values, { address: f.proxy.address, revision: "1", replicas: "1" });
    assert.match(log, /dockyard: replica dy-svc-roll-\S+-r1-1 healthy after \d+\.\d s; in the proxy \(slot \d+\)/);
    assert.ok(!log.includes(SECRET), "the secret is not in the log");
    const [r] = await listReplicas(f.docker, f.service);
    const env = (await f.docker.getContainer(r!.containerId).inspect()).Config.Env;
    assert.ok(env.includes(`API_KEY=${SECRET}`) && env.includes("REV=1"));
    assert.equal(await getBody(`http://${f.proxy.address}/`), "rev1");
    // The inventory was refreshed by the step: the next heartbeat shows the replica.
    assert.ok(
      f.host
        .held()
        .some(
          (h) => h.id === `dy-svc-${f.service}-${f.host.owner.slice(0, 8)}-r1-1` && h.attributes.in_proxy === "true",
        ),
    );
  });

  it("watches for the window and succeeds", async () => {
    const { exit, log } = await runStep(assignment("watch", { watchMs: 300n }));
    assert.equal(exit.exitCode, 0, log);
    assert.match(log, /all replicas of revision 1 kept running for 0.3 s/);
  });

  it("fails, with a message, a roll that asks for another port than its running proxy's", async () => {
    const other = await freePort();
    const { exit, log } = await runStep(assignment("roll", { proxyPort: other }));
    assert.equal(exit.exitCode, 1);
    assert.match(log, new RegExp(`dockyard: the proxy of service '${f.service}' already runs on 127.0.0.1:${port}`));
  });
});
