// Pruning and removing gone agents on the embedded PGlite database (the zero-setup default):
// the same SQL must run there as on Postgres (e2e/tokens-agents.test.ts covers Postgres).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import path from "node:path";
import { openDatabase, type Database } from "./db";
import { agents, attempts, runs, stages } from "./schema";
import { pruneAgents, removeAgent } from "./agents";
import { tempDir } from "@dockyard/testkit";

let database: Database;
let dir: string;
const now = new Date("2030-01-01T00:00:00Z");
const ago = (ms: number) => new Date(now.getTime() - ms);

async function addAgent(name: string, state: string, lastHeartbeatAt: Date): Promise<string> {
  const id = `00000000-0000-4000-8000-${String(Math.floor(Math.random() * 1e12)).padStart(12, "0")}`;
  await database.db.insert(agents).values({
    id,
    name,
    labels: {},
    capacity: 1,
    state,
    joinTokenId: "t",
    capabilities: ["shell"],
    registeredAt: lastHeartbeatAt,
    lastHeartbeatAt,
  });
  return id;
}

before(async () => {
  dir = tempDir("prune");
  database = await openDatabase({ databaseUrl: null, dataDir: dir });
});
after(async () => {
  await database?.close();
  rmSync(dir, { recursive: true, force: true });
});

test("gone agents past the retention are pruned; online ones and those holding live work are kept", async () => {
  const old = await addAgent("old", "offline", ago(60_000));
  const recent = await addAgent("recent", "lost", ago(1_000));
  const online = await addAgent("online", "online", ago(60_000));
  const busy = await addAgent("busy", "revoked", ago(60_000));
  await database.db
    .insert(runs)
    .values({ id: "r1", name: "p", state: "running", pipelineYaml: "", createdAt: ago(70_000) });
  await database.db.insert(stages).values({
    id: "s1",
    runId: "r1",
    name: "s",
    position: 0,
    state: "running",
    type: "command",
    spec: {} as never,
    retryCount: 0,
    retryOn: [],
  });
  await database.db.insert(attempts).values({
    id: "a1",
    stageId: "s1",
    runId: "r1",
    number: 1,
    agentId: busy,
    leaseId: "l",
    state: "lost",
    leaseExpiresAt: ago(0),
    assignedAt: ago(70_000),
  });

  const pruned = await pruneAgents(database.db, now, 30_000);
  assert.deepEqual(pruned, [{ id: old, name: "old", state: "offline" }]);
  await assert.rejects(removeAgent(database.db, online), /is online: stop it first/);
  await assert.rejects(removeAgent(database.db, busy), /still holds attempts of unfinished runs/);
  assert.deepEqual(await removeAgent(database.db, recent), { name: "recent", state: "lost" });
  await assert.rejects(removeAgent(database.db, recent), /agent not found/);

  // Once its run has ended, the busy agent goes too.
  await database.db.update(runs).set({ state: "failed" });
  assert.deepEqual(
    (await pruneAgents(database.db, now, 30_000)).map((a) => a.name),
    ["busy"],
  );
});
