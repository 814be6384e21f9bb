// Stage artifacts: stored by the agent that holds the attempt (UploadArtifact), listed and
// read by people (RunService, HTTP). Bounds are the wire contract's (artifact-limits.ts),
// checked again here: the agent's own check is a courtesy, this one is the rule.
import { createHash } from "node:crypto";
import { and, asc, eq, inArray, sql } from "drizzle-orm";
import {
  MAX_ARTIFACT_BYTES,
  MAX_ATTEMPT_ARTIFACTS,
  MAX_ATTEMPT_ARTIFACT_BYTES,
  artifactNameProblem,
  contentTypeProblem,
} from "@dockyard/proto";
import type { Db } from "./db";
import { artifacts, attempts, stages } from "./schema";
import { ConflictError, DockyardError, InvalidError, NotFoundError } from "../errors";
import { ACTIVE_ATTEMPT_STATES } from "../domain/states";
import { newId } from "../ids";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface ArtifactUpload {
  attemptId: string;
  leaseId: string;
  name: string;
  contentType: string;
  data: Uint8Array;
}

/** An artifact without its bytes (what lists show). */
export interface ArtifactInfo {
  id: string;
  runId: string;
  stage: string;
  attemptId: string;
  attemptNumber: number;
  name: string;
  contentType: string;
  size: number;
  sha256: string;
  createdAt: Date;
}

const INFO = {
  id: artifacts.id,
  runId: artifacts.runId,
  stage: artifacts.stage,
  attemptId: artifacts.attemptId,
  attemptNumber: artifacts.attemptNumber,
  name: artifacts.name,
  contentType: artifacts.contentType,
  size: artifacts.size,
  sha256: artifacts.sha256,
  createdAt: artifacts.createdAt,
};

/** What is wrong with an upload's own fields (no database needed), or null. */
export function uploadProblem(u: ArtifactUpload): string | null {
  if (!UUID.test(u.attemptId)) return "attempt_id must be a UUID";
  return (
    artifactNameProblem(u.name) ??
    contentTypeProblem(u.contentType) ??
    (u.data.length > MAX_ARTIFACT_BYTES
      ? `artifact '${u.name}' has ${u.data.length} bytes; the limit is ${MAX_ARTIFACT_BYTES} (10 MiB)`
      : null)
  );
}

/**
 * Store an artifact of an attempt `agentId` holds under `leaseId` (live). The same name with
 * the same bytes again answers the stored id (`created` false): an upload retried after a lost
 * answer. The same name with other bytes is a ConflictError: a name is written once.
 */
export async function storeArtifact(
  db: Db,
  agentId: string,
  u: ArtifactUpload,
  now: Date,
): Promise<{ id: string; created: boolean }> {
  const problem = uploadProblem(u);
  if (problem) throw new InvalidError(problem);
  const sha256 = createHash("sha256").update(u.data).digest("hex");
  return db.transaction(async (tx) => {
    // Serializes uploads to one attempt (for the per-attempt totals) without locking the
    // attempt row, which its log and renewal writes update meanwhile.
    await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtext(${`artifacts:${u.attemptId}`}))`);
    const [held] = await tx
      .select({ runId: attempts.runId, number: attempts.number, stage: stages.name })
      .from(attempts)
      .innerJoin(stages, eq(stages.id, attempts.stageId))
      .where(
        and(
          eq(attempts.id, u.attemptId),
          eq(attempts.agentId, agentId),
          eq(attempts.leaseId, u.leaseId),
          inArray(attempts.state, [...ACTIVE_ATTEMPT_STATES]),
        ),
      );
    if (!held)
      throw new DockyardError(
        "permission_denied",
        `agent ${agentId} does not hold attempt ${u.attemptId} under this lease (any more): it may not upload to it`,
      );
    const [same] = await tx
      .select({ id: artifacts.id, sha256: artifacts.sha256 })
      .from(artifacts)
      .where(and(eq(artifacts.attemptId, u.attemptId), eq(artifacts.name, u.name)));
    if (same) {
      if (same.sha256 === sha256) return { id: same.id, created: false };
      throw new ConflictError(`attempt ${u.attemptId} already has an artifact '${u.name}' with other content`);
    }
    const [totals] = await tx
      .select({ count: sql<number>`count(*)::int`, bytes: sql<number>`coalesce(sum(${artifacts.size}), 0)::bigint` })
      .from(artifacts)
      .where(eq(artifacts.attemptId, u.attemptId));
    const count = Number(totals?.count ?? 0);
    const bytes = Number(totals?.bytes ?? 0);
    if (count >= MAX_ATTEMPT_ARTIFACTS)
      throw new InvalidError(
        `attempt ${u.attemptId} already has ${count} artifacts; the limit is ${MAX_ATTEMPT_ARTIFACTS}`,
      );
    if (bytes + u.data.length > MAX_ATTEMPT_ARTIFACT_BYTES)
      throw new InvalidError(
        `artifact '${u.name}' (${u.data.length} bytes) would bring attempt ${u.attemptId} to ${bytes + u.data.length} bytes; ` +
          `the limit is ${MAX_ATTEMPT_ARTIFACT_BYTES} (50 MiB)`,
      );
    const id = newId();
    await tx.insert(artifacts).values({
      id,
      runId: held.runId,
      stage: held.stage,
      attemptId: u.attemptId,
      attemptNumber: held.number,
      name: u.name,
      contentType: u.contentType,
      size: u.data.length,
      sha256,
      bytes: Buffer.from(u.data.buffer, u.data.byteOffset, u.data.length),
      createdAt: now,
    });
    return { id, created: true };
  });
}

/** The run's artifacts (one stage's when `stage` is given), in stage, attempt and name order. */
export async function listArtifacts(db: Db, runId: string, stage?: string): Promise<ArtifactInfo[]> {
  return db
    .select(INFO)
    .from(artifacts)
    .where(
      stage === undefined ? eq(artifacts.runId, runId) : and(eq(artifacts.runId, runId), eq(artifacts.stage, stage)),
    )
    .orderBy(asc(artifacts.stage), asc(artifacts.attemptNumber), asc(artifacts.name));
}

/** One artifact with its bytes; InvalidError for an id that is not one, NotFoundError when none has it. */
export async function readArtifact(db: Db, id: string): Promise<ArtifactInfo & { bytes: Buffer }> {
  if (!UUID.test(id)) throw new InvalidError(`invalid artifact id '${id.slice(0, 64)}': expected a UUID`);
  const [row] = await db
    .select({ ...INFO, bytes: artifacts.bytes })
    .from(artifacts)
    .where(eq(artifacts.id, id));
  if (!row) throw new NotFoundError("artifact", id);
  return row;
}
