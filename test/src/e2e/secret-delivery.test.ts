// A secret reaches the stage that asked for it, as env or as a file (mode
// 0400, on tmpfs, gone after the attempt), on the docker and the shell
// executor, and nowhere else: not in the stored log (masked), not in the
// agent's own log, not in the agent's command line.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { startFarm, submit, testDocker, waitFor, waitForRun, runEvents, logsByStage, type Farm } from "../index";

describe("secret delivery to stages", { timeout: 120_000 }, () => {
  let farm: Farm;
  const value = `v-${randomBytes(16).toString("hex")}`;
  before(async () => {
    await testDocker();
    farm = await startFarm({
      agents: [
        { name: "deliver-docker", executor: "docker" },
        { name: "deliver-shell", executor: "shell" },
      ],
    });
    await farm.client.setSecret({ name: "api-key", value: Buffer.from(value) });
  });
  after(async () => farm?.stop());

  for (const executor of ["docker", "shell"] as const) {
    it(`hands the ${executor} executor the secret as env and as a 0400 file on tmpfs, and masks it`, async () => {
      const image = executor === "docker" ? "image: dockyard/busybox:1" : "executor: shell";
      const runId = await submit(
        farm.client,
        `
name: deliver-${executor}
stages:
  use:
    ${image}
    env:
      KEY: { secret: api-key }
      KEY_FILE: { secret: api-key, file: true }
    commands:
      - test "$KEY" = "${value.slice(0, 2)}$(printf %s "$KEY" | cut -c3-)"
      - echo "env=$KEY"
      - echo "file=$(cat "$KEY_FILE")"
      - echo "path=$KEY_FILE"
      - ls -l "$KEY_FILE" | cut -c1-10
      - stat -f -c %T "$(dirname "$KEY_FILE")" 2>/dev/null || df "$KEY_FILE" | tail -1
`,
      );
      const run = await waitForRun(farm.client, runId);
      assert.equal(run.state, "succeeded", JSON.stringify(run.stages.map((s) => [s.name, s.state, s.reason])));
      const out = logsByStage(await runEvents(farm.client, runId)).get("use") ?? "";
      assert.match(out, /^env=\*\*\*$/m);
      assert.match(out, /^file=\*\*\*$/m);
      assert.match(out, /^-r--------$/m, `the file is mode 0400:\n${out}`);
      assert.match(out, /tmpfs|shm/, `the file is on tmpfs:\n${out}`);
      assert.ok(!out.includes(value), "the value reached the log");
      const filePath = /^path=(.+)$/m.exec(out)?.[1] ?? "";
      if (executor === "docker") assert.equal(filePath, "/run/dockyard/secrets/KEY_FILE");
      else assert.ok(!existsSync(filePath), `the file ${filePath} outlived its attempt`);
    });
  }

  it("keeps the join token off the agent's command line and the secret out of its log", async () => {
    const agent = farm.spawnAgent({ name: "ps-check", executor: "shell", labels: { who: "ps-check" } });
    await waitFor(
      async () => (await farm.pg.query("SELECT 1 FROM agents WHERE name = 'ps-check' AND state = 'online'")).rowCount,
      {
        message: "the spawned agent online",
      },
    );
    const cmdline = readFileSync(`/proc/${agent.child.pid}/cmdline`, "utf8");
    assert.ok(cmdline.length > 0, "read the agent's command line");
    assert.ok(!cmdline.includes(farm.joinToken), "the join token is visible in ps");
    // Run a stage using the secret on that agent, then read the agent's own log file.
    const runId = await submit(
      farm.client,
      `
name: log-check
stages:
  s:
    executor: shell
    agent: { who: ps-check }
    env: { KEY: { secret: api-key } }
    command: echo "$KEY"
`,
    );
    assert.equal((await waitForRun(farm.client, runId)).state, "succeeded");
    const log = readFileSync(agent.logFile, "utf8");
    assert.ok(log.includes("agent started") && log.includes(runId), "the agent's log was read, and it ran the stage");
    assert.ok(!log.includes(value) && !log.includes(farm.joinToken), "a secret or the join token in the agent's log");
  });
});
