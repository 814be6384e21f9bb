// Agent identity under revocation: what revoking a join token or one agent does to live
// agents (their sessions end, their attempts are lost and retried elsewhere, their
// processes stop the work and exit, and they cannot come back). What a registration must
// prove is in identity.test.ts.
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { keyPairFromPem } from "@dockyard/proto";
import { submit, waitFor, waitForRun, type Farm, type SpawnedAgent } from "../index";
import { identitySuite, registerRequest } from "../helpers/registration";

/** A process's state letter and start time (clock ticks since boot) from /proc, or null when it is gone. */
function procStat(pid: number): { state: string; startTime: string } | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8")
      .replace(/^.*\) /s, "")
      .split(" ");
    return { state: fields[0]!, startTime: fields[19]! };
  } catch {
    return null;
  }
}

/** Whether the process `pid` that started at `startTime` still runs (a zombie or a reused pid does not count). */
function alive(pid: number, startTime: string): boolean {
  const stat = procStat(pid);
  return stat !== null && stat.state !== "Z" && stat.startTime === startTime;
}

/** Wait (with a deadline) for a spawned agent to exit; its exit code. */
async function exitCode(agent: SpawnedAgent, timeoutMs = 15_000): Promise<number | null> {
  await waitFor(() => agent.child.exitCode !== null || agent.child.signalCode !== null, {
    timeoutMs,
    message: `agent in ${agent.stateDir} to exit`,
  });
  return agent.exited;
}

const LONG_STAGE = (pool: string) => `
name: evict-${pool}
stages:
  long:
    executor: shell
    agent: { pool: ${pool} }
    retry: { count: 1, on: [lost] }
    commands:
      - 'echo "attempt $DOCKYARD_ATTEMPT"'
      - 'if [ "$DOCKYARD_ATTEMPT" = 1 ]; then sleep 30 & echo "sleep pid $!"; wait; fi'
      - 'echo done'
`;

describe("agent identity", { timeout: 180_000 }, () => {
  const suite = identitySuite();
  const { refusal, agentsNamed } = suite;
  let farm: Farm;
  before(() => {
    farm = suite.farm;
  });

  /**
   * A long stage on a pool of agents: waits until attempt 1 runs its `sleep` and returns the
   * attempt, the agent it runs on and the sleep's pid (alive).
   */
  async function longStageRunning(pool: string) {
    const runId = await submit(farm.client, LONG_STAGE(pool));
    const running = await waitFor(
      async () =>
        (
          await farm.pg.query<{ id: string; agent_id: string; name: string }>(
            "SELECT a.id, a.agent_id, g.name FROM attempts a JOIN agents g ON g.id = a.agent_id WHERE a.run_id = $1 AND a.state = 'running'",
            [runId],
          )
        ).rows[0],
      { message: `attempt 1 of ${pool} running` },
    );
    const pid = await waitFor(
      async () => {
        const logs = await farm.pg.query<{ text: string }>(
          "SELECT string_agg(convert_from(data, 'UTF8'), '' ORDER BY seq) AS text FROM run_events WHERE run_id = $1 AND kind = 'log'",
          [runId],
        );
        const m = /sleep pid (\d+)/.exec(logs.rows[0]?.text ?? "");
        return m ? Number(m[1]) : undefined;
      },
      { message: "the sleep's pid in the log" },
    );
    const startTime = procStat(pid)?.startTime ?? "";
    assert.ok(alive(pid, startTime), `sleep ${pid} runs`);
    assert.match(readFileSync(`/proc/${pid}/cmdline`, "utf8"), /^sleep\x0030/);
    return { runId, attempt: running, sleep: { pid, startTime } };
  }

  /** The run's attempts by number, with state, reason and agent name. */
  const attemptsOf = async (runId: string) =>
    (
      await farm.pg.query<{ number: number; state: string; reason: string | null; name: string }>(
        "SELECT a.number, a.state, a.reason, g.name FROM attempts a JOIN agents g ON g.id = a.agent_id WHERE a.run_id = $1 ORDER BY a.number",
        [runId],
      )
    ).rows;

  it("revoking a join token evicts its live agents: attempts lost and retried, work stopped, no way back", async () => {
    const { id: tokenId, token } = await farm.client.createJoinToken({ description: "to be revoked" });
    const spawned = new Map(
      ["evict-a", "evict-b"].map((name) => [
        name,
        farm.spawnAgent({ name, executor: "shell", capacity: 1, labels: { pool: "evict" }, joinToken: token }),
      ]),
    );
    await waitFor(
      async () =>
        (await farm.pg.query("SELECT 1 FROM agents WHERE name IN ('evict-a', 'evict-b') AND state = 'online'"))
          .rowCount === 2,
      {
        message: "both agents of the token online",
      },
    );
    const { runId, attempt, sleep } = await longStageRunning("evict");
    // An agent of another token (the farm's), to take the retry.
    await farm.startAgent({ name: "evict-rescue", executor: "shell", capacity: 1, labels: { pool: "evict" } });

    assert.equal((await farm.client.revokeJoinToken({ id: tokenId })).agentsRevoked, 2);
    const revoked = await farm.pg.query<{ name: string; state: string; session_id: string }>(
      "SELECT name, state, session_id FROM agents WHERE name IN ('evict-a', 'evict-b') ORDER BY name",
    );
    assert.deepEqual(revoked.rows, [
      { name: "evict-a", state: "revoked", session_id: "" },
      { name: "evict-b", state: "revoked", session_id: "" },
    ]);
    const listed = (await farm.client.listAgents({})).agents
      .filter((a) => a.name.startsWith("evict-"))
      .map((a) => [a.name, a.state])
      .sort();
    assert.deepEqual(listed, [
      ["evict-a", "revoked"],
      ["evict-b", "revoked"],
      ["evict-rescue", "online"],
    ]);

    // The agent holding the attempt learns at its next heartbeat (300 ms here) and stops its shell.
    await waitFor(() => !alive(sleep.pid, sleep.startTime), {
      timeoutMs: 5000,
      message: `sleep ${sleep.pid} of the revoked agent to be killed`,
    });
    for (const agent of spawned.values()) {
      assert.equal(await exitCode(agent, 5000), 1);
      const log = readFileSync(agent.logFile, "utf8");
      assert.match(log, /session refused; registering again/);
      assert.match(log, /agent refused by the server; stopping its attempts/);
      assert.match(
        log,
        /dockyard agent: registration refused \(unauthenticated\): the join proof matches no live join token \(wrong or revoked token\)/,
      );
    }

    const run = await waitForRun(farm.client, runId, 30_000);
    assert.equal(run.state, "succeeded");
    assert.deepEqual(await attemptsOf(runId), [
      { number: 1, state: "lost", reason: "agent's join token was revoked", name: attempt.name },
      { number: 2, state: "succeeded", reason: "succeeded", name: "evict-rescue" },
    ]);

    // Started again (same state directory, same identity and token), the agent is refused at once.
    const holder = spawned.get(attempt.name)!;
    const before = readFileSync(holder.logFile, "utf8").length;
    const again = farm.spawnAgent({
      name: attempt.name,
      executor: "shell",
      capacity: 1,
      labels: { pool: "evict" },
      joinToken: token,
      stateDir: holder.stateDir,
    });
    assert.equal(await exitCode(again), 1);
    assert.match(
      readFileSync(again.logFile, "utf8").slice(before),
      /dockyard agent: registration refused \(unauthenticated\): .*wrong or revoked token/,
    );
    assert.equal((await agentsNamed(attempt.name))[0]?.state, "revoked");
  });

  it("revoking one agent evicts it alone, and its id cannot register again", async () => {
    const x = farm.spawnAgent({ name: "revoke-x", executor: "shell", capacity: 1, labels: { pool: "single" } });
    await waitFor(async () => (await agentsNamed("revoke-x"))[0]?.state === "online", { message: "revoke-x online" });
    const { runId, attempt, sleep } = await longStageRunning("single");
    assert.equal(attempt.name, "revoke-x");
    // Same join token as revoke-x: it must keep working.
    await farm.startAgent({ name: "revoke-y", executor: "shell", capacity: 1, labels: { pool: "single" } });

    assert.equal((await farm.client.revokeAgent({ id: attempt.agent_id })).attemptsLost, 1);
    const listed = (await farm.client.listAgents({})).agents
      .filter((a) => a.name.startsWith("revoke-"))
      .map((a) => [a.name, a.state])
      .sort();
    assert.deepEqual(listed, [
      ["revoke-x", "revoked"],
      ["revoke-y", "online"],
    ]);

    await waitFor(() => !alive(sleep.pid, sleep.startTime), {
      timeoutMs: 5000,
      message: `sleep ${sleep.pid} of the revoked agent to be killed`,
    });
    assert.equal(await exitCode(x, 5000), 1);
    const log = readFileSync(x.logFile, "utf8");
    assert.match(log, /session refused; registering again/);
    assert.match(log, /agent refused by the server; stopping its attempts/);
    assert.ok(
      log.includes(
        `dockyard agent: registration refused (unauthenticated): agent ${attempt.agent_id} was revoked; register a new agent (new state directory)`,
      ),
      log.slice(-2000),
    );

    const run = await waitForRun(farm.client, runId, 30_000);
    assert.equal(run.state, "succeeded");
    assert.deepEqual(await attemptsOf(runId), [
      { number: 1, state: "lost", reason: "agent was revoked", name: "revoke-x" },
      { number: 2, state: "succeeded", reason: "succeeded", name: "revoke-y" },
    ]);

    // The same id with its own key and a live token: still refused, by the server and by a restart.
    const key = keyPairFromPem(readFileSync(path.join(x.stateDir, "agent.key"), "utf8"));
    const refused = await refusal(
      registerRequest(key, farm.joinToken, { agentId: attempt.agent_id, name: "revoke-x" }),
    );
    assert.equal(refused.code, "unauthenticated");
    assert.equal(refused.message, `agent ${attempt.agent_id} was revoked; register a new agent (new state directory)`);
    const again = farm.spawnAgent({
      name: "revoke-x",
      executor: "shell",
      capacity: 1,
      labels: { pool: "single" },
      stateDir: x.stateDir,
    });
    assert.equal(await exitCode(again), 1);
    const restartLog = readFileSync(again.logFile, "utf8").slice(log.length);
    assert.ok(restartLog.includes(`agent ${attempt.agent_id} was revoked`), restartLog);
    assert.deepEqual(
      (await agentsNamed("revoke-x")).map((r) => r.state),
      ["revoked"],
    );
  });
});
