// Runs the stages of server-side kinds (approvals and notifications are next):
// claims their queued stages (FOR UPDATE SKIP LOCKED, so one replica takes each),
// gives each an attempt held by the server itself, and calls the kind's `start`.
// The kind ends the attempt through its context, then or later; the end goes
// through the same stage flow as an agent's (retries, dependents, run state).
import { sql } from "drizzle-orm";
import type { Logger } from "pino";
import { parseJson, queryRows, type Db } from "../store/db";
import { withTx } from "../store/tx";
import { endAttempt, type EndedAttempt } from "../store/stage-flow";
import { newId } from "../ids";
import type { Clock } from "../clock";
import type { ServerStage, ServerStageKind } from "./kind";
import type { StageOutputsRow } from "../store/schema";

/** The agent id of attempts the server runs itself. */
export const SERVER_AGENT_ID = "server";
/** Server attempts hold no lease: theirs never expires (the kind ends them). */
const NO_LEASE_END = new Date("9999-12-31T00:00:00Z");

export class ServerStageRunner {
  private passing = false;

  constructor(
    private readonly db: Db,
    private readonly kinds: Record<string, ServerStageKind>,
    private readonly clock: Clock,
    /** Publishes an end (events, dependents): the scheduler's afterEnded. */
    private readonly ended: (ended: EndedAttempt[]) => void,
    private readonly log: Logger,
  ) {}

  /** Claim and start every queued server stage; returns how many started. */
  async pass(limit = 50): Promise<number> {
    if (this.passing || Object.keys(this.kinds).length === 0) return 0;
    this.passing = true;
    try {
      const now = this.clock.now();
      const claimed = await withTx(this.db, async (tx) => {
        const rows = await queryRows<{ id: string; run_id: string; name: string; type: string; spec: unknown; attempts: number }>(
          tx,
          sql`
          SELECT id, run_id, name, type, spec, attempts FROM stages
          WHERE state = 'queued' AND runs_on = 'server' ORDER BY queued_at LIMIT ${limit} FOR UPDATE SKIP LOCKED`,
        );
        const out: ServerStage[] = [];
        for (const r of rows) {
          const attemptId = newId();
          await tx.execute(sql`
            WITH a AS (
              INSERT INTO attempts (id, stage_id, run_id, number, agent_id, lease_id, state, lease_expires_at, assigned_at, started_at)
              VALUES (${attemptId}, ${r.id}, ${r.run_id}, ${r.attempts + 1}, ${SERVER_AGENT_ID}, ${newId()}, 'running', ${NO_LEASE_END}, ${now}, ${now}))
            UPDATE stages SET state = 'running', attempts = ${r.attempts + 1}, agent_id = ${SERVER_AGENT_ID}, started_at = ${now} WHERE id = ${r.id}`);
          out.push({ runId: r.run_id, stageId: r.id, stageName: r.name, attemptId, spec: { type: r.type, ...(parseJson(r.spec) as object) } });
        }
        return out;
      });
      for (const stage of claimed) this.start(stage);
      return claimed.length;
    } finally {
      this.passing = false;
    }
  }

  private start(stage: ServerStage): void {
    const type = (stage.spec as { type: string }).type;
    const kind = this.kinds[type];
    const finish = async (outcome: "succeeded" | "failed" | "errored", reason: string, outputs?: StageOutputsRow) => {
      const now = this.clock.now();
      const ended = await withTx(this.db, (tx) => endAttempt(tx, stage.attemptId, outcome, { exitCode: null, reason, now, outputs }));
      if (ended) this.ended([ended]);
    };
    if (!kind) {
      void finish("errored", `no server stage kind '${type}'`).catch((err: unknown) => this.log.error({ err }, "server stage end failed"));
      return;
    }
    kind.start(stage, { finish, now: () => this.clock.now() }).catch(async (err: unknown) => {
      this.log.error({ err, stageId: stage.stageId, type }, "server stage failed");
      await finish("errored", `${type} failed: ${(err as Error).message}`).catch(() => undefined);
    });
  }
}
