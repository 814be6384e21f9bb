// The agent kinds' contract: every kind of the control plane's registry (AGENT_KINDS) goes
// through the same lifecycle on one farm: start -> succeeded with the kind's outputs; cancel
// while running -> canceled; `timeout:` -> failed, the attempt `timeout`; kill -9 of its agent
// -> the attempt `lost`, then retried or not as the kind's retry default says. A kind added to
// the registry without a case here fails the first test (no kind is skipped silently).
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { AGENT_KINDS } from "@dockyard/control-plane";
import { STAGE_TYPES } from "@dockyard/pipeline";
import type { Run } from "@dockyard/proto";
import { projectDir, sourceTarOf, startFarm, waitFor, waitForRun, type Farm } from "../index";

/** How to exercise one kind: a stage that succeeds, one that runs until stopped, and what its outputs must show. */
interface KindCase {
  /** The stage's YAML flow mapping without braces; `long` runs until stopped. */
  ok: string;
  long: string;
  files?: Record<string, string>;
  outputs(stage: Run["stages"][number]): void;
}

// Escaped for a YAML double-quoted scalar.
const JUNIT = '<testsuite name=\\"c\\"><testcase name=\\"one\\"/><testcase name=\\"two\\"/></testsuite>';
const CASES: Record<string, KindCase> = {
  command: {
    ok: 'image: dockyard/busybox:1, command: "echo hi"',
    long: 'image: dockyard/busybox:1, command: "sleep 300"',
    outputs: (s) => assert.equal(s.exitCode, 0),
  },
  build: {
    ok: "type: build, tags: [contract-build:1]",
    long: "type: build, tags: [contract-slow:1], dockerfile: Slow.Dockerfile",
    files: {
      Dockerfile: "FROM dockyard/busybox:1\nRUN echo built > /built.txt\n",
      "Slow.Dockerfile": "FROM dockyard/busybox:1\nRUN sleep 300\n",
    },
    outputs: (s) => assert.match(s.outputs?.image?.ref ?? "", /contract-build:1/),
  },
  deploy: {
    ok: "type: deploy, template: web.yml",
    long: "type: deploy, template: sick.yml, health_timeout: 5m",
    files: {
      "web.yml": [
        "services:",
        "  web:",
        "    image: dockyard/busybox:1",
        '    command: ["httpd", "-f", "-p", "8080", "-h", "/"]',
        "    ports: ['8080']",
      ].join("\n"),
      "sick.yml": [
        "services:",
        "  db:",
        "    image: dockyard/busybox:1",
        '    command: ["sleep", "600"]',
        "    healthcheck: { test: ['CMD', 'false'], interval: 1s }",
      ].join("\n"),
    },
    outputs: (s) => {
      assert.ok(s.outputs?.values.env_id, "a deploy's outputs name its environment");
      assert.match(s.outputs?.values["web.address"] ?? "", /:8080$/, "and its services' addresses");
    },
  },
  test: {
    ok: `type: test, image: dockyard/busybox:1, junit: /tmp/r.xml, command: "echo '${JUNIT}' > /tmp/r.xml"`,
    long: 'type: test, image: dockyard/busybox:1, command: "sleep 300"',
    outputs: (s) => assert.equal(s.outputs?.tests?.passed, 2),
  },
};

// A ui-test's page: a local server started before the farm (the getter reads its URL then).
let siteUrl = "";
CASES["ui-test"] = {
  get ok() {
    return `type: ui-test, url: "${siteUrl}", steps: [{ goto: / }, { expect: { text: contract page } }]`;
  },
  get long() {
    return `type: ui-test, url: "${siteUrl}", script: long-journey.mjs`;
  },
  files: { "long-journey.mjs": "export default async () => new Promise((r) => setTimeout(r, 600000));\n" },
  outputs: (s) => assert.equal(s.outputs?.values.success, "true"),
};

const FILES = Object.assign({}, ...Object.values(CASES).map((c) => c.files ?? {})) as Record<string, string>;

describe("agent kinds: one lifecycle contract", { concurrency: 1 }, () => {
  let farm: Farm;
  let tar: Buffer;
  let site: http.Server;
  before(async () => {
    site = http.createServer((_req, res) => res.end("<h1>contract page</h1>"));
    await new Promise<void>((r) => site.listen(0, "127.0.0.1", r));
    siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
    farm = await startFarm({ env: { DOCKYARD_AGENT_LOST_TIMEOUT_MS: "4000", DOCKYARD_LEASE_TTL_MS: "8000" } });
    await farm.startAgent({ name: "contract-main", capacity: 4, labels: { pool: "main" } });
    tar = await sourceTarOf(projectDir(FILES));
  });
  after(async () => {
    await farm?.stop();
    site?.closeAllConnections();
    await new Promise((r) => site?.close(r));
  });

  let n = 0;
  const submit = async (kind: string, stage: string, pool = "main") => {
    const yaml = `name: contract-${kind}-${++n}\nstages:\n  s: { ${stage}, agent: { pool: ${pool} } }\n`;
    return (await farm.client.submitRun({ pipelineYaml: Buffer.from(yaml), source: "test", sourceTar: tar })).run!.id;
  };
  const attempts = async (runId: string) =>
    (
      await farm.pg.query<{ number: number; state: string; reason: string | null }>(
        "SELECT number, state, reason FROM attempts WHERE run_id = $1 ORDER BY number",
        [runId],
      )
    ).rows;
  const running = (runId: string) =>
    waitFor(async () => (await attempts(runId)).some((a) => a.state === "running"), {
      timeoutMs: 60_000,
      message: `${runId} running`,
    });

  it("every agent kind of the registry has a case here (internal ones are named, and tested where they are spawned)", () => {
    const internal = Object.keys(AGENT_KINDS).filter((t) => !(STAGE_TYPES as string[]).includes(t));
    // service-step is spawned by update-service, never written in a pipeline: its lifecycle (a step
    // lost with its agent, rolled back; a canceled update) is in the services-* end-to-end tests.
    assert.deepEqual(internal, ["service-step"]);
    assert.deepEqual(
      Object.keys(AGENT_KINDS)
        .filter((t) => !internal.includes(t))
        .sort(),
      Object.keys(CASES).sort(),
    );
  });

  for (const [type, c] of Object.entries(CASES)) {
    const retry = AGENT_KINDS[type]?.retry ?? { count: 0, on: [] };
    const retriesLost = retry.on.includes("lost") && retry.count > 0;
    describe(type, { concurrency: 1 }, () => {
      it("start: succeeds with the kind's outputs", async () => {
        const run = await waitForRun(farm.client, await submit(type, c.ok), 120_000);
        const s = run.stages[0]!;
        assert.equal(run.state, "succeeded", `${s.state}: ${s.reason}`);
        c.outputs(run.stages[0]!);
      });

      it("cancel while running: canceled", async () => {
        const runId = await submit(type, c.long);
        await running(runId);
        await farm.client.cancelRun({ runId });
        const run = await waitForRun(farm.client, runId, 60_000);
        assert.equal(run.state, "canceled");
        assert.equal(run.stages[0]!.state, "canceled");
      });

      it("timeout: failed, the attempt timed out", async () => {
        const run = await waitForRun(farm.client, await submit(type, `${c.long}, timeout: 3s`), 60_000);
        assert.equal(run.state, "failed");
        assert.match(run.stages[0]!.reason, /^stage exceeded its timeout/);
        assert.deepEqual(
          (await attempts(run.id)).map((a) => a.state),
          ["timeout"],
        );
      });

      it(`agent killed: lost, then ${retriesLost ? `retried (retry default: ${retry.count} on lost)` : "not retried (retry default: none), the run fails"}`, async () => {
        const doomed = farm.spawnAgent({
          name: `contract-doomed-${type}`,
          capacity: 1,
          labels: { pool: `doomed-${type}` },
        });
        const runId = await submit(type, c.long, `doomed-${type}`);
        await running(runId);
        doomed.child.kill("SIGKILL");
        await doomed.exited;
        if (retriesLost) {
          // The retry waits for an agent of its pool: a new one takes it.
          await farm.startAgent({ name: `contract-heir-${type}`, capacity: 1, labels: { pool: `doomed-${type}` } });
          await waitFor(async () => ((await attempts(runId))[1]?.state === "running" ? true : undefined), {
            timeoutMs: 60_000,
            message: "attempt 2 running",
          });
          assert.equal((await attempts(runId))[0]!.state, "lost");
          await farm.client.cancelRun({ runId });
          assert.equal((await waitForRun(farm.client, runId, 60_000)).state, "canceled");
        } else {
          const run = await waitForRun(farm.client, runId, 60_000);
          assert.equal(run.state, "failed");
          assert.deepEqual(
            (await attempts(runId)).map((a) => a.state),
            ["lost"],
            "no second attempt",
          );
        }
      });
    });
  }
});
