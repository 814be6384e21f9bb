// Helpers for approval tests: a gRPC client acting as a named user (a user with roles and
// an API token of theirs), and reads of an approval stage and its events.
import * as grpc from "@grpc/grpc-js";
import { clientTlsCredentials, createClient, RunService } from "@dockyard/proto";
import { addUser, createApiToken, SERVER_ACTOR } from "@dockyard/control-plane";
import type { Farm, RunClient } from "./farm";
import { waitFor } from "./wait";
import { runEvents } from "./runs";

export interface UserClient {
  token: string;
  client: RunClient;
}

/** A client of `address` (default: the farm's server) whose calls come from user `name` (made with `roles`). */
export async function userClient(
  farm: Farm,
  name: string,
  address = farm.server.grpcAddress,
  roles = ["operator", "approver"],
): Promise<UserClient> {
  const db = farm.server.db.db;
  await addUser(db, name, roles, SERVER_ACTOR, new Date());
  const { token } = await createApiToken(db, name, `${name}'s test token`, SERVER_ACTOR, new Date());
  return { token, client: clientFor(farm, token, address) };
}

export function clientFor(farm: Farm, token: string, address: string): RunClient {
  return createClient(RunService, address, {
    credentials: clientTlsCredentials(farm.server.pki.caPem),
    metadata: () => {
      const md = new grpc.Metadata();
      md.set("authorization", `Bearer ${token}`);
      return md;
    },
  });
}

export interface StageRow {
  state: string;
  reason: string | null;
  outputs: { values: Record<string, string> } | null;
  finished_at: Date | null;
}

export async function stageRow(farm: Farm, runId: string, name: string): Promise<StageRow> {
  const { rows } = await farm.pg.query<StageRow>(
    `SELECT state, reason, outputs, finished_at FROM stages WHERE run_id = $1 AND name = $2`,
    [runId, name],
  );
  if (!rows[0]) throw new Error(`no stage ${name} in run ${runId}`);
  return rows[0];
}

/** Wait until the approval stage waits (running, with its waiting reason); returns that reason. */
export async function waitingReasonOf(farm: Farm, runId: string, name = "gate", timeoutMs = 10_000): Promise<string> {
  return waitFor(
    async () => {
      const s = await stageRow(farm, runId, name);
      return s.state === "running" && s.reason?.startsWith("waiting for approval") ? s.reason : undefined;
    },
    { timeoutMs, message: `stage ${name} of ${runId} waiting for approval` },
  );
}

export async function waitForStage(
  farm: Farm,
  runId: string,
  name: string,
  state: string,
  timeoutMs = 10_000,
): Promise<StageRow> {
  return waitFor(
    async () => {
      const s = await stageRow(farm, runId, name);
      return s.state === state ? s : undefined;
    },
    { timeoutMs, message: `stage ${name} of ${runId} ${state}` },
  );
}

/** The approval events of a run: [action, by] pairs, with the raw values. */
export async function approvalEvents(client: RunClient, runId: string) {
  return (await runEvents(client, runId)).flatMap((e) => (e.body.case === "approval" ? [e.body.value] : []));
}

/** The approval's stored deadline (ms). */
export async function deadlineOf(farm: Farm, runId: string, name = "gate"): Promise<number> {
  const { rows } = await farm.pg.query<{ deadline: string }>(
    `SELECT a.server_state->>'deadline' AS deadline FROM attempts a JOIN stages s ON s.id = a.stage_id WHERE s.run_id = $1 AND s.name = $2`,
    [runId, name],
  );
  return Date.parse(rows[0]!.deadline);
}
