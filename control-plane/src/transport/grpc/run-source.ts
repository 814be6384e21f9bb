// AgentService.GetRunSource: the tar the CLI uploaded with a run, in 1 MiB
// pieces, only to an agent that holds a live attempt of that run.
import type * as grpc from "@grpc/grpc-js";
import { and, eq, inArray } from "drizzle-orm";
import { create, SourceChunkSchema, type GetRunSourceRequest, type SourceChunk } from "@dockyard/proto";
import type { Db } from "../../store/db";
import { attempts, runSources } from "../../store/schema";
import { DockyardError, NotFoundError } from "../../errors";
import { ACTIVE_ATTEMPT_STATES } from "../../domain/states";

const CHUNK_BYTES = 1024 * 1024;

export async function streamRunSource(
  call: grpc.ServerWritableStream<GetRunSourceRequest, SourceChunk>,
  db: Db,
  agentId: string,
): Promise<void> {
  const runId = call.request.runId;
  if (!/^[0-9a-f-]{36}$/.test(runId)) throw new DockyardError("invalid", "run_id must be a UUID");
  const [holds] = await db
    .select({ id: attempts.id })
    .from(attempts)
    .where(
      and(
        eq(attempts.runId, runId),
        eq(attempts.agentId, agentId),
        inArray(attempts.state, [...ACTIVE_ATTEMPT_STATES]),
      ),
    )
    .limit(1);
  if (!holds) throw new DockyardError("permission_denied", `agent ${agentId} holds no attempt of run ${runId}`);
  const [row] = await db.select({ tar: runSources.tar }).from(runSources).where(eq(runSources.runId, runId));
  if (!row) throw new NotFoundError("uploaded source of run", runId);
  for (let at = 0; at < row.tar.length; at += CHUNK_BYTES) {
    const ok = call.write(create(SourceChunkSchema, { data: row.tar.subarray(at, at + CHUNK_BYTES) }));
    if (!ok) await new Promise((resolve) => call.once("drain", resolve));
  }
  call.end();
}
