// Tokens and agents you can see: `token list` shows every join and API token (kind,
// description, created, last used, revoked) and never a secret; gone agents show their
// state in `dockyard agents`, leave it after DOCKYARD_AGENT_RETENTION_MS unless they still
// hold work of an unfinished run, and `agents rm` removes one that is gone now.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { AgentJson, TokenJson } from "@dockyard/cli";
import { runningAttempt, startFarm, submit, waitFor, type Farm } from "../index";
import { dockyard, http } from "../helpers/status-cli";

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

describe("tokens and agents you can see", { timeout: 300_000 }, () => {
  let farm: Farm;
  // Polls go through the HTTP API (same shape as `agents --json`): a CLI process per poll is slow on a busy machine.
  const agentsJson = async () => (await http(farm, "GET", "/agents")).json.agents as AgentJson[];
  const agentId = async (name: string) =>
    (await farm.pg.query("SELECT id FROM agents WHERE name = $1", [name])).rows[0]?.id as string;

  before(async () => {
    farm = await startFarm({
      env: { DOCKYARD_AGENT_RETENTION_MS: "15000" },
      agents: [{ name: "ta-main", executor: "shell", capacity: 2, labels: { pool: "main" } }],
    });
  });
  after(async () => farm?.stop());

  it("token list shows join and API tokens with their times, never a secret", async () => {
    const created = await dockyard(farm, ["token", "create", "-d", "ci runners"]);
    assert.equal(created.code, 0, created.stderr);
    const secret = created.stdout.trim();
    const id = /created join token ([0-9a-f-]{36})/.exec(created.stderr)![1]!;
    // Positive control: the secret is visible where it is meant to be (once, at create).
    assert.ok(secret.length > 20 && created.stdout.includes(secret.split(".")[0]!));

    const listed = await dockyard(farm, ["token", "list", "--json"]);
    assert.equal(listed.code, 0, listed.stderr);
    const tokens = JSON.parse(listed.stdout) as TokenJson[];
    const mine = tokens.find((t) => t.id === id)!;
    assert.deepEqual(
      { ...mine, createdAt: typeof mine.createdAt },
      {
        id,
        kind: "join",
        user: null,
        description: "ci runners",
        createdAt: "string",
        lastUsedAt: null,
        revokedAt: null,
      },
    );
    assert.deepEqual(tokens.map((t) => t.kind).sort(), ["api", "join", "join"]);
    assert.ok(tokens.find((t) => t.kind === "api")!.lastUsedAt, "the API token the CLI uses is recorded as used");

    // An agent registering with the new token marks it used.
    await farm.startAgent({ name: "ta-joined", executor: "shell", joinToken: secret });
    const used = (JSON.parse((await dockyard(farm, ["token", "list", "--json"])).stdout) as TokenJson[]).find(
      (t) => t.id === id,
    )!;
    assert.ok(used.lastUsedAt && Date.parse(used.lastUsedAt) >= Date.parse(mine.createdAt));
    assert.equal((await dockyard(farm, ["token", "revoke", id])).code, 0);

    const table = await dockyard(farm, ["token", "list"]);
    const api = await http(farm, "GET", "/tokens");
    assert.equal(api.status, 200);
    assert.ok(api.json.tokens.find((t: TokenJson) => t.id === id).revokedAt, "revoked");
    assert.match(table.stdout, /^ID +KIND +USER +DESCRIPTION +CREATED +LAST USED +REVOKED/);
    assert.match(table.stdout, new RegExp(`${id} +join +- +ci runners .*\\d\\d:\\d\\d`));
    for (const [what, out] of [
      ["token list", table.stdout],
      ["token list --json", listed.stdout],
      ["GET /tokens", JSON.stringify(api.json)],
    ] as const) {
      for (const s of [secret.split(".")[0]!, farm.joinToken, farm.apiToken]) {
        assert.ok(!out.includes(s) && !out.includes(sha256(s)), `${what} shows a secret or its hash`);
      }
    }
  });

  it("gone agents show their state, are pruned after the retention unless they hold live work, and agents rm removes one", async () => {
    const busy = await farm.startAgent({ name: "ta-busy", executor: "shell", labels: { pool: "busy" } });
    const idle = await farm.startAgent({ name: "ta-idle", executor: "shell", labels: { pool: "idle" } });
    const leaving = await farm.startAgent({ name: "ta-leaving", executor: "shell", labels: { pool: "leaving" } });
    // One run with a stage on ta-busy and one that keeps the run going after ta-busy is revoked.
    const runId = await submit(
      farm.client,
      `name: hold
stages:
  on-busy: { executor: shell, agent: { pool: busy }, retry: 0, command: 'sleep 300' }
  on-main: { executor: shell, agent: { pool: main }, command: 'sleep 300' }
`,
    );
    await waitFor(
      async () =>
        (await farm.pg.query("SELECT 1 FROM attempts WHERE run_id = $1 AND state = 'running'", [runId])).rowCount === 2,
      {
        message: "both stages running",
      },
    );
    await runningAttempt(farm, runId);
    const [busyId, idleId, leavingId, mainId] = await Promise.all(
      ["ta-busy", "ta-idle", "ta-leaving", "ta-main"].map(agentId),
    );

    // agents rm refuses what is not gone, and answers for what does not exist.
    const online = await dockyard(farm, ["agents", "rm", mainId!]);
    assert.equal(online.code, 1);
    assert.match(online.stderr, new RegExp(`agent ${mainId} \\(ta-main\\) is online: stop it first, or revoke it`));
    assert.match((await dockyard(farm, ["agents", "rm", "nope"])).stderr, /agent id must be a UUID, got 'nope'/);
    const overHttp = await http(farm, "DELETE", `/agents/${mainId}`);
    assert.deepEqual([overHttp.status, overHttp.json.error.code], [409, "conflict"]);
    assert.match(
      (await dockyard(farm, ["agents", "rm", "00000000-0000-4000-8000-000000000000"])).stderr,
      /agent not found/,
    );

    // A clean stop leaves an offline agent; rm removes it at once.
    await leaving.stop();
    await waitFor(async () => (await agentsJson()).find((a) => a.id === leavingId)?.state === "offline", {
      message: "ta-leaving offline",
    });
    const removed = await dockyard(farm, ["agents", "rm", leavingId!]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(removed.stdout, `removed agent ${leavingId} (ta-leaving, offline)\n`);
    assert.equal(
      (await agentsJson()).find((a) => a.id === leavingId),
      undefined,
    );

    // Revoked agents are listed with their state until the retention has passed.
    for (const id of [busyId!, idleId!]) assert.equal((await dockyard(farm, ["agents", "revoke", id])).code, 0);
    const shown = JSON.parse((await dockyard(farm, ["agents", "--json"])).stdout) as AgentJson[];
    for (const id of [busyId, idleId]) {
      const a = shown.find((x) => x.id === id)!;
      assert.deepEqual([a.state, typeof a.revokedAt], ["revoked", "string"]);
    }
    assert.match((await dockyard(farm, ["agents"])).stdout, new RegExp(`${idleId} +ta-idle +revoked`));
    const holding = await dockyard(farm, ["agents", "rm", busyId!]);
    assert.equal(holding.code, 1);
    assert.match(holding.stderr, /still holds attempts of unfinished runs/);

    // ta-idle is pruned; ta-busy, whose attempt belongs to the run still going, is kept.
    await waitFor(async () => !(await agentsJson()).some((a) => a.id === idleId), {
      timeoutMs: 60_000,
      intervalMs: 500,
      message: "ta-idle pruned",
    });
    assert.ok(
      (await agentsJson()).some((a) => a.id === busyId),
      "an agent holding work of a live run is not pruned",
    );
    // Once the run has ended, ta-busy goes too; the online agent stays.
    assert.equal((await http(farm, "POST", `/runs/${runId}/cancel`)).status, 200);
    await waitFor(async () => !(await agentsJson()).some((a) => a.id === busyId), {
      timeoutMs: 60_000,
      intervalMs: 500,
      message: "ta-busy pruned",
    });
    assert.ok((await agentsJson()).some((a) => a.id === mainId && a.state === "online"));
    await Promise.all([busy.abort(), idle.abort()]);
  });
});
