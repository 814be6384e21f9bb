// Test stages and temporary environments as a user sees them: JUnit counts of a failing
// test stage in its outputs and log; an environment kept after a failed run
// (keep_on_failure) that `dockyard envs` lists, then reaped by a restarted agent once its
// TTL passed while a live one is left alone until its run ends; and the messages of a
// template with unsupported keys and of a service whose health check never passes.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import type Docker from "dockerode";
import type { Run } from "@dockyard/proto";
import { startFarm, submit, waitForRun, runEvents, logsByStage, testDocker, waitFor, type Farm } from "../index";
import { dockyardCli, projectDir, sourceTarOf } from "../index";

const JUNIT = `
      <testsuite name="unit" tests="4">
        <testcase classname="calc" name="adds"/>
        <testcase classname="calc" name="subtracts"/>
        <testcase classname="calc" name="divides"><failure message="division by zero">expected 1, got Infinity</failure></testcase>
        <testcase classname="calc" name="rounds"><skipped/></testcase>
      </testsuite>`;

const WEB_TEMPLATE = [
  "services:",
  "  web:",
  "    image: dockyard/busybox:1",
  '    command: ["httpd", "-f", "-p", "8080", "-h", "/"]',
  "    ports: ['8080']",
  "    volumes: ['data:/data']",
  "volumes:",
  "  data: {}",
].join("\n");

/** Containers, networks and volumes labelled with the environment id. */
async function envResources(
  docker: Docker,
  envId: string,
): Promise<{ containers: number; networks: number; volumes: number }> {
  const filters = { label: [`dockyard.env=${envId}`] };
  const [c, n, v] = await Promise.all([
    docker.listContainers({ all: true, filters }),
    docker.listNetworks({ filters }),
    docker.listVolumes({ filters }),
  ]);
  return { containers: c.length, networks: n.length, volumes: v.Volumes?.length ?? 0 };
}

const stageOf = (run: Run, name: string) => run.stages.find((s) => s.name === name)!;

describe("test stages and temporary environments", { concurrency: 1 }, () => {
  let farm: Farm;
  let docker: Docker;

  before(async () => {
    docker = await testDocker();
    farm = await startFarm();
    await farm.startAgent({ name: "envs-live", labels: { role: "live" } });
  });
  after(async () => farm?.stop());

  const submitWith = async (yaml: string, files: Record<string, string>) =>
    (
      await farm.client.submitRun({
        pipelineYaml: Buffer.from(yaml),
        source: "test",
        sourceTar: await sourceTarOf(projectDir(files)),
      })
    ).run!.id;
  const envs = async () => {
    const r = await dockyardCli(farm, ["envs"]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };

  it("a failing test stage with a JUnit report fails the run and reports its counts in outputs and log", async () => {
    const runId = await submit(
      farm.client,
      `
name: junit
stages:
  red:
    type: test
    image: dockyard/busybox:1
    junit: /tmp/report.xml
    command: |
      cat > /tmp/report.xml <<'EOF'${JUNIT}
      EOF
      echo "1 of 4 tests failed"
      exit 1
  green:
    type: test
    image: dockyard/busybox:1
    junit: /tmp/report.xml
    command: |
      echo '<testsuite name="ok"><testcase name="one"/><testcase name="two"/></testsuite>' > /tmp/report.xml
`,
    );
    const run = await waitForRun(farm.client, runId, 120_000);
    const logs = logsByStage(await runEvents(farm.client, runId));
    assert.equal(run.state, "failed", JSON.stringify([...logs]));
    const counts = (name: string) => {
      const t = stageOf(run, name).outputs?.tests;
      return t && { passed: t.passed, failed: t.failed, skipped: t.skipped, errors: t.errors, total: t.total };
    };
    // The passing stage's counts reach GetRun: the same path must carry the failing one's.
    assert.equal(stageOf(run, "green").state, "succeeded");
    assert.deepEqual(counts("green"), { passed: 2, failed: 0, skipped: 0, errors: 0, total: 2 });
    assert.match(logs.get("red") ?? "", /1 of 4 tests failed\n/);
    assert.match(logs.get("red") ?? "", /dockyard: tests: 2 passed, 1 failed, 1 skipped/);
    assert.equal(stageOf(run, "red").state, "failed");
    assert.equal(stageOf(run, "red").exitCode, 1);
    assert.deepEqual(
      counts("red"),
      { passed: 2, failed: 1, skipped: 1, errors: 0, total: 4 },
      "a failed test stage keeps its JUnit counts",
    );
    assert.equal(stageOf(run, "red").outputs?.values.exit_code, "1");
  });

  it("a template with unsupported keys and a service that never becomes healthy each fail their deploy stage, naming the key's path or the service", async () => {
    const runId = await submitWith(
      `
name: bad-envs
stages:
  unsupported: { type: deploy, template: bad.yml }
  unhealthy: { type: deploy, template: sick.yml, health_timeout: 4s }
`,
      {
        "bad.yml": [
          "services:",
          "  web:",
          "    image: dockyard/busybox:1",
          "    build: .",
          "    privileged: true",
        ].join("\n"),
        "sick.yml": [
          "services:",
          "  db:",
          "    image: dockyard/busybox:1",
          '    command: ["sleep", "600"]',
          "    healthcheck: { test: ['CMD', 'false'], interval: 1s, retries: 1 }",
        ].join("\n"),
      },
    );
    // The sick environment's containers exist while its health check fails...
    await waitFor(
      async () =>
        (await docker.listContainers({ all: true, filters: { label: [`dockyard.run=${runId}`, "dockyard.env"] } }))
          .length > 0,
      {
        timeoutMs: 60_000,
        message: "the unhealthy environment's container to be created",
      },
    );
    const run = await waitForRun(farm.client, runId, 120_000);
    const logs = logsByStage(await runEvents(farm.client, runId));
    assert.equal(run.state, "failed", JSON.stringify([...logs]));
    assert.equal(stageOf(run, "unsupported").state, "failed");
    assert.match(
      logs.get("unsupported") ?? "",
      /dockyard: template 'bad\.yml' is not supported:\n {2}services\.web\.build: 'build' is not supported/,
    );
    assert.match(logs.get("unsupported") ?? "", /\n {2}services\.web\.privileged: 'privileged' is not supported/);
    assert.equal(stageOf(run, "unhealthy").state, "failed");
    assert.match(
      logs.get("unhealthy") ?? "",
      /dockyard: service 'db' did not become healthy within 4000 ms \(status unhealthy/,
    );
    // ...and are removed with the failed startup.
    await waitFor(
      async () =>
        (await docker.listContainers({ all: true, filters: { label: [`dockyard.run=${runId}`, "dockyard.env"] } }))
          .length === 0,
      {
        timeoutMs: 30_000,
        message: "the unhealthy environment removed after its failed startup",
      },
    );
  });

  it("keep_on_failure keeps a failed run's environment (listed by dockyard envs) until a restarted agent reaps it after its TTL; a live one stays until its run ends", async () => {
    const keeper = farm.spawnAgent({ name: "envs-keeper", labels: { role: "keeper" } });
    await waitFor(
      async () =>
        (await farm.pg.query("SELECT 1 FROM agents WHERE name = 'envs-keeper' AND state = 'online'")).rowCount,
      {
        message: "agent envs-keeper online",
      },
    );
    // A live environment on the other agent, with a long TTL, whose run waits until canceled.
    const liveRun = await submitWith(
      `
name: live
stages:
  env: { type: deploy, template: env.yml, ttl: 30m, agent: { role: live } }
  wait: { type: test, needs: [env], environment: env, image: dockyard/busybox:1, command: "sleep 600" }
`,
      { "env.yml": WEB_TEMPLATE },
    );
    const keptRun = await submitWith(
      `
name: keep
stages:
  env: { type: deploy, template: env.yml, ttl: 10s, keep_on_failure: true, agent: { role: keeper } }
  e2e:
    type: test
    needs: [env]
    environment: env
    image: dockyard/busybox:1
    command: "wget -q -O /dev/null http://\${{ stages.env.outputs.web.address }}/etc/hostname && echo 'reached web'; echo 'smoke test failed'; exit 1"
`,
      { "env.yml": WEB_TEMPLATE },
    );
    const kept = await waitForRun(farm.client, keptRun, 120_000);
    const keptLogs = logsByStage(await runEvents(farm.client, keptRun));
    assert.equal(kept.state, "failed", JSON.stringify([...keptLogs]));
    assert.match(keptLogs.get("e2e") ?? "", /reached web\nsmoke test failed/);
    const keptEnv = stageOf(kept, "env").outputs!.values;
    const envId = keptEnv.env_id!;
    const expiresAt = Number(keptEnv.expires_at_ms);
    // The agent decided to keep it (its log says so), so the containers still there are no slow teardown.
    await waitFor(
      () =>
        readFileSync(keeper.logFile, "utf8")
          .split("\n")
          .some((l) => l.includes(envId) && l.includes("environment kept after a failed run")),
      {
        message: "the keeper agent to keep the failed run's environment",
      },
    );
    assert.deepEqual(await envResources(docker, envId), { containers: 1, networks: 1, volumes: 1 });
    const listed = await waitFor(
      async () => {
        const out = await envs();
        return out.includes(envId) ? out : undefined;
      },
      { message: `dockyard envs to list ${envId}` },
    );
    const keptLine = listed.split("\n").find((l) => l.startsWith(envId)) ?? "";
    assert.match(keptLine, /\bkeep#1\b/);
    assert.match(keptLine, /\benvs-keeper\b/);
    assert.match(keptLine, /\bweb=web:8080\b/);
    assert.ok(
      Date.now() < expiresAt,
      `seen kept before its TTL passed (at ${new Date(expiresAt).toISOString()}); a slower host needs a longer ttl`,
    );

    const live = await waitFor(
      async () => {
        const { run } = await farm.client.getRun({ runId: liveRun });
        return run && stageOf(run, "wait").state === "running" ? run : undefined;
      },
      { timeoutMs: 120_000, message: "the live run's test stage running on its environment" },
    );
    const liveEnvId = stageOf(live, "env").outputs!.values.env_id!;
    assert.equal((await envResources(docker, liveEnvId)).containers, 1);

    // The keeper dies; a new process on its state directory starts once the kept environment expired.
    keeper.child.kill("SIGKILL");
    await keeper.exited;
    assert.equal((await envResources(docker, envId)).containers, 1, "killing the agent removes nothing");
    await waitFor(() => Date.now() > expiresAt, {
      timeoutMs: 30_000,
      intervalMs: 200,
      message: "the kept environment's TTL to pass",
    });
    farm.spawnAgent({ name: "envs-keeper", labels: { role: "keeper" }, stateDir: keeper.stateDir });
    await waitFor(async () => Object.values(await envResources(docker, envId)).every((n) => n === 0), {
      timeoutMs: 60_000,
      message: `expired environment ${envId} reaped (no container, network or volume left)`,
    });
    // The same sweep left the live environment alone, and its run is still running.
    assert.equal((await envResources(docker, liveEnvId)).containers, 1, "the live environment survives the reaper");
    assert.equal((await farm.client.getRun({ runId: liveRun })).run?.state, "running");
    await waitFor(
      async () => {
        const out = await envs();
        return !out.includes(envId) && out.includes(liveEnvId);
      },
      { timeoutMs: 30_000, message: `dockyard envs to drop ${envId} (and still list ${liveEnvId})` },
    );

    // Its run ends: the live environment goes too, and the list is empty.
    const cancel = await dockyardCli(farm, ["cancel", liveRun]);
    assert.equal(cancel.code, 0, cancel.stderr);
    await waitFor(async () => Object.values(await envResources(docker, liveEnvId)).every((n) => n === 0), {
      timeoutMs: 30_000,
      message: "the live environment removed when its run ended",
    });
    await waitFor(async () => /no live environments/.test(await envs()), {
      timeoutMs: 30_000,
      message: "dockyard envs to list none",
    });
  });
});
