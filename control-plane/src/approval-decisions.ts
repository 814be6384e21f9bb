// A decision on an approval stage, from any entry point (gRPC for the CLI, HTTP): checked
// for size, then sent as a signal to the stage's server-run attempt, on this replica,
// whichever replica started it (see stages/server-runner.ts).
import type { Logger } from "pino";
import type { Clock } from "./clock";
import { InvalidError } from "./errors";
import type { ServerStageRunner } from "./stages/server-runner";
import type { Caller } from "./transport/grpc/caller";

/** Longest comment on a decision. */
export const MAX_DECISION_COMMENT = 1000;

export interface Decision {
  approve: boolean;
  comment: string;
  via: "cli" | "http" | "webhook";
}

interface DecisionDeps {
  serverStages?: ServerStageRunner;
  clock: Clock;
  log: Logger;
  resolveRun(ref: string): Promise<string>;
}

/**
 * Decide approval stage `stage` of run `ref` as `caller`; returns the run id. Only its listed
 * approvers may (ForbiddenError naming who may); ConflictError when it does not wait for a decision.
 */
export async function decideApproval(
  deps: DecisionDeps,
  ref: string,
  stage: string,
  decision: Decision,
  caller: Caller,
): Promise<string> {
  if (!stage) throw new InvalidError("stage is required: dockyard approve RUN STAGE");
  if (stage.length > 64)
    throw new InvalidError(`invalid stage '${stage.slice(0, 32)}…': a stage name is at most 64 characters`);
  if (decision.comment.length > MAX_DECISION_COMMENT) {
    throw new InvalidError(`comment is ${decision.comment.length} characters; the limit is ${MAX_DECISION_COMMENT}`);
  }
  if (!deps.serverStages) throw new InvalidError("this server runs no server stages");
  const runId = await deps.resolveRun(ref);
  await deps.serverStages.signal(runId, stage, {
    kind: decision.approve ? "approve" : "reject",
    by: caller.user,
    userId: caller.userId,
    roles: caller.roles,
    via: decision.via,
    comment: decision.comment.trim(),
    at: deps.clock.now(),
  });
  deps.log.info({ runId, stage, by: caller.user, approve: decision.approve, via: decision.via }, "approval decided");
  return runId;
}
