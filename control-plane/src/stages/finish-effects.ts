// After an agent stage succeeded (its row already says so): its affinity key now
// names this agent, and the kind's own effects run (deploy: the environment
// record). A failure here is logged and never undoes the end.
import { eq } from "drizzle-orm";
import type { Logger } from "pino";
import type { Db } from "../store/db";
import { stages, type StageOutputsRow } from "../store/schema";
import { recordEnvironment, rememberAffinity } from "../store/stage-outputs";
import type { EndedAttempt } from "../store/stage-flow";
import { stageKind, type FinishEffects, type FinishedStage } from "./index";
import type { KindSpec } from "@dockyard/pipeline";

export async function afterStageSucceeded(db: Db, ended: EndedAttempt, outputs: StageOutputsRow | null, at: Date, log: Logger): Promise<void> {
  try {
    const [row] = await db.select({ spec: stages.spec, name: stages.name, runId: stages.runId }).from(stages).where(eq(stages.id, ended.attempt.stageId));
    if (!row) return;
    const kind = stageKind(row.spec.type);
    if (kind.runsOn !== "agent") return;
    if (row.spec.affinity) await rememberAffinity(db, row.spec.affinity, ended.attempt.agentId, at);
    if (!kind.finished) return;
    const effects: FinishEffects = {
      recordEnvironment: (env) => recordEnvironment(db, env),
    };
    const finished = kind.finished as (s: KindSpec, e: FinishedStage, f: FinishEffects) => Promise<void>;
    await finished(
      row.spec.kind,
      {
        runId: row.runId,
        stageId: ended.attempt.stageId,
        stageName: row.name,
        agentId: ended.attempt.agentId,
        outputs,
        at,
      },
      effects,
    );
  } catch (err) {
    log.error({ err, attemptId: ended.attempt.id }, "stage end effects failed");
  }
}
