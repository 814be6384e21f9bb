// An agent upgraded one version up while a run goes on: an agent of protocol N-1 (claimed with the
// test-only DOCKYARD_TEST_PROTOCOL_VERSION) runs the first stage of a two-stage run, is stopped
// gracefully (SIGTERM drains: the stage finishes), the current agent starts with the same state
// directory and takes the second stage. An agent of protocol N-2 is refused, naming both versions
// (the positive control of the acceptance rule: the N-1 agent above was accepted).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { PROTOCOL_VERSION, releaseVersionText } from "@dockyard/proto";
import { tempDir } from "@dockyard/testkit";
import type { AgentJson } from "@dockyard/cli";
import { dockyardCli, startFarm, submit, waitFor, waitForRun, runEvents, logsByStage, type Farm } from "../index";

interface AgentRow {
  id: string;
  state: string;
  version: string;
}

describe("agent upgrade", () => {
  let farm: Farm;
  before(async () => {
    farm = await startFarm();
  });
  after(async () => farm?.stop());

  const agentRows = async (name: string) =>
    (await farm.pg.query<AgentRow>("select id, state, version from agents where name = $1", [name])).rows;

  it("an N-1 agent drains its stage on SIGTERM and the current agent, same state dir, runs the next one", async () => {
    const stateDir = tempDir("agent-upgrade");
    const gate = tempDir("upgrade-gate");
    const opts = { name: "up-a", executor: "shell" as const, capacity: 1, stateDir };
    const old = farm.spawnAgent({ ...opts, env: { DOCKYARD_TEST_PROTOCOL_VERSION: String(PROTOCOL_VERSION - 1) } });
    const oldVersion = `${releaseVersionText()} (test: protocol ${PROTOCOL_VERSION - 1})`;
    const [registered] = await waitFor(
      async () => ((await agentRows("up-a"))[0]?.state === "online" ? agentRows("up-a") : null),
      {
        message: "the N-1 agent online",
        timeoutMs: 30_000,
      },
    );
    assert.equal(registered!.version, oldVersion);

    const runId = await submit(
      farm.client,
      `
name: upgrade
stages:
  one:
    executor: shell
    commands: ["touch ${gate}/started", "while [ ! -f ${gate}/go ]; do sleep 0.05; done", "echo one done"]
  two:
    executor: shell
    needs: [one]
    commands: ["echo two done"]
`,
    );
    await waitFor(() => existsSync(path.join(gate, "started")), { message: "stage one running on the N-1 agent" });
    old.child.kill("SIGTERM");
    await waitFor(async () => (await agentRows("up-a"))[0]?.state === "draining", {
      message: "the N-1 agent draining",
    });
    writeFileSync(path.join(gate, "go"), "");
    assert.equal(await old.exited, 0, readFileSync(old.logFile, "utf8"));
    const oneBy = await farm.pg.query<{ agent_id: string; state: string }>(
      `select a.agent_id, a.state from attempts a join stages s on s.id = a.stage_id where s.run_id = $1 and s.name = 'one'`,
      [runId],
    );
    assert.deepEqual(
      oneBy.rows.map((r) => [r.agent_id, r.state]),
      [[registered!.id, "succeeded"]],
    );

    // The upgrade: the current agent, same name and state directory (so the same agent id).
    const current = farm.spawnAgent(opts);
    const run = await waitForRun(farm.client, runId);
    const states = run.stages.map((s) => [s.name, s.state, s.reason]);
    assert.equal(run.state, "succeeded", `${JSON.stringify(states)}\n${readFileSync(current.logFile, "utf8")}`);
    const logs = logsByStage(await runEvents(farm.client, runId));
    assert.equal(logs.get("one"), "one done\n");
    assert.equal(logs.get("two"), "two done\n");
    const rows = await agentRows("up-a");
    assert.deepEqual(
      rows.map((r) => [r.id, r.version]),
      [[registered!.id, releaseVersionText()]],
    );
    // And the API shows it.
    const res = await fetch(`${farm.server.httpUrl}/api/v1/agents`, {
      headers: { authorization: `Bearer ${farm.apiToken}` },
    });
    const body = (await res.json()) as { agents: { name: string; version: string | null }[] };
    assert.equal(body.agents.find((a) => a.name === "up-a")?.version, releaseVersionText());
    // And `dockyard agents --json`.
    const listed = JSON.parse((await dockyardCli(farm, ["agents", "--json"])).stdout) as AgentJson[];
    assert.equal(listed.find((a) => a.name === "up-a")?.version, releaseVersionText());
  });

  it("refuses an N-2 agent with a message naming both versions", async () => {
    const refused = farm.spawnAgent({
      name: "up-old",
      executor: "shell",
      env: { DOCKYARD_TEST_PROTOCOL_VERSION: String(PROTOCOL_VERSION - 2) },
    });
    assert.equal(await refused.exited, 1);
    const log = readFileSync(refused.logFile, "utf8");
    const agent = `agent ${releaseVersionText()} (test: protocol ${PROTOCOL_VERSION - 2}) speaks protocol ${PROTOCOL_VERSION - 2}`;
    const server = `server ${releaseVersionText()} speaks protocol ${PROTOCOL_VERSION} and accepts ${PROTOCOL_VERSION - 1} to ${PROTOCOL_VERSION}`;
    assert.ok(log.includes(`registration refused (protocol_mismatch): ${agent}; ${server}: upgrade the agent`), log);
    assert.deepEqual(await agentRows("up-old"), []);
  });
});
