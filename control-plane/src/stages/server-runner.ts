// Runs the stages of server-side kinds (approval) durably: all a kind keeps is in Postgres
// (its attempt's server_state, its timers, the signals sent to it), and every call runs in
// one transaction with the attempt row locked, so any replica resumes what another started
// and a restart loses nothing. On every beat (and at start, for timers that came due while
// no server ran) a replica claims queued server stages and due timers with FOR UPDATE SKIP
// LOCKED; between beats one setTimeout per replica wakes it for the earliest timer, so a
// deadline fires within a beat of its stored time (well under a second).
// Ends go through endAttempt, the agents' end path (events, retries, dependents, run state).
// The beat also tells parents of their children's ends and fails queued children whose pinned
// agent went away (server-child-delivery.ts, server-children.ts).
import { sql } from "drizzle-orm";
import type { Logger } from "pino";
import { queryRows, type Db, type Tx } from "../store/db";
import { withTx } from "../store/tx";
import { endAttempt, refreshRunState, type EndedAttempt } from "../store/stage-flow";
import type { RunEventRecord } from "../store/events";
import { serverSignals, type StageOutputsRow } from "../store/schema";
import { newId } from "../ids";
import { ALERTMANAGER_ACTOR, audit, SERVER_ACTOR } from "../store/audit";
import type { Clock } from "../clock";
import { ConflictError, InvalidError, NotFoundError } from "../errors";
import { SERVER_AGENT_ID } from "../domain/server-agent";
import type { ServerSignal, ServerStageKind } from "./kind";
import {
  contextFor,
  dropTimers,
  endChildrenOf,
  lockServerStage,
  merge,
  noEffects,
  type CallEffects,
} from "./server-context";
import { deliverChildEnd } from "./server-child-delivery";
import { failStrandedChildren, STRANDED_SQL } from "./server-children";

export { SERVER_AGENT_ID };
/** Server attempts hold no lease: theirs never expires (the kind or its timers end them). */
const NO_LEASE_END = new Date("9999-12-31T00:00:00Z");
/** The runner's own timer: the stage's `timeout:` (kinds that own their deadline arm none). */
export const STAGE_TIMEOUT = "stage-timeout";
/** How soon a tick looks again at a timer that was due but not fired (another replica holds it). */
const RECHECK_MS = 50;
/** The wake-up is re-read from the database at least this often (other replicas write timers too). */
const MAX_ARM_MS = 30_000;

export interface ServerRunnerHooks {
  /** Publish ended attempts (events, dependents, kicks): the scheduler's afterEnded. */
  ended(ended: EndedAttempt[]): void;
  /** Publish other events (an approval's waiting/reminder/decision events). */
  publish(events: RunEventRecord[]): void;
  /** Children were queued (ctx.spawn): run a scheduling pass. */
  kick?(): void;
}

export class ServerStageRunner {
  private ticking = false;
  private again = false;
  private beat: NodeJS.Timeout | null = null;
  private wake: NodeJS.Timeout | null = null;
  private wakeAt: number | null = null;
  private stopped = false;

  constructor(
    private readonly db: Db,
    private readonly kinds: Record<string, ServerStageKind>,
    private readonly clock: Clock,
    private readonly hooks: ServerRunnerHooks,
    private readonly log: Logger,
  ) {}

  /** Beat every `intervalMs`, and tick now: overdue timers fire at once after a start. */
  start(intervalMs: number): void {
    this.beat = setInterval(() => this.tick(), intervalMs).unref();
    this.tick();
  }

  stop(): void {
    this.stopped = true;
    if (this.beat) clearInterval(this.beat);
    if (this.wake) clearTimeout(this.wake);
  }

  /** Start queued stages, fire due timers, re-arm the wake-up; calls while one runs coalesce. */
  tick(): void {
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = true;
    void (async () => {
      do {
        this.again = false;
        try {
          // One small read per beat when there is nothing to do (both sides use partial indexes).
          const [work] = await queryRows<{
            queued: boolean;
            next: string | Date | null;
            children: boolean;
            stranded: boolean;
          }>(
            this.db,
            sql`SELECT EXISTS (SELECT 1 FROM stages WHERE state = 'queued' AND runs_on = 'server') AS queued,
              (SELECT min(fire_at) FROM server_timers) AS next,
              EXISTS (SELECT 1 FROM server_children WHERE ended_at IS NOT NULL AND delivered_at IS NULL) AS children,
              EXISTS (${STRANDED_SQL}) AS stranded`,
          );
          if (work?.queued) await this.pass();
          if (work?.stranded)
            this.after({
              ...noEffects(),
              events: await withTx(this.db, (tx) => failStrandedChildren(tx, this.clock.now())),
            });
          if (work?.children || work?.stranded) await this.deliverChildEnds();
          if (work?.next && new Date(work.next).getTime() <= this.clock.now().getTime()) await this.fireDue();
          await this.armFromDb();
        } catch (err) {
          this.log.error({ err }, "server stage tick failed");
        }
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.ticking = false;
    });
  }

  /** Claim and start queued server stages, each in its own transaction; returns how many started. */
  async pass(limit = 50): Promise<number> {
    if (Object.keys(this.kinds).length === 0) return 0;
    let started = 0;
    for (; started < limit; started++) {
      const effects = await withTx(this.db, (tx) => this.startOne(tx));
      if (!effects) break;
      this.after(effects);
    }
    return started;
  }

  private async startOne(tx: Tx): Promise<CallEffects | null> {
    const [r] = await queryRows<{ id: string; type: string; attempts: number }>(
      tx,
      sql`SELECT id, type, attempts FROM stages WHERE state = 'queued' AND runs_on = 'server' ORDER BY queued_at LIMIT 1 FOR UPDATE SKIP LOCKED`,
    );
    if (!r) return null;
    const now = this.clock.now();
    const attemptId = newId();
    await tx.execute(sql`
      WITH a AS (
        INSERT INTO attempts (id, stage_id, run_id, number, agent_id, lease_id, state, lease_expires_at, assigned_at, started_at, server_state)
        SELECT ${attemptId}, s.id, s.run_id, ${r.attempts + 1}, ${SERVER_AGENT_ID}, ${newId()}, 'running', ${NO_LEASE_END}, ${now}, ${now}, '{}'::jsonb
        FROM stages s WHERE s.id = ${r.id})
      UPDATE stages SET state = 'running', attempts = ${r.attempts + 1}, agent_id = ${SERVER_AGENT_ID}, started_at = ${now}, reason = NULL WHERE id = ${r.id}`);
    const out = noEffects();
    const stage = await lockServerStage(tx, attemptId);
    if (!stage) throw new Error(`server attempt ${attemptId} vanished`);
    // A run whose first started stage is a server one is running now (as an agent stage's claim makes it).
    out.events.push(...(await refreshRunState(tx, stage.runId, now)));
    const kind = this.kinds[r.type];
    const ctx = contextFor(tx, stage, now, out);
    if (!kind) {
      await ctx.finish("errored", `no server stage kind '${r.type}'`);
      return out;
    }
    // A kind's failure ends its attempt as errored; its half-done writes roll back to the savepoint.
    try {
      await tx.transaction(async (sp) => {
        const inner = noEffects();
        const spCtx = contextFor(sp, stage, now, inner);
        if (stage.timeoutMs !== null && !kind.ownsTimeout)
          await spCtx.setTimer(new Date(now.getTime() + stage.timeoutMs), STAGE_TIMEOUT);
        await kind.start(stage, spCtx);
        Object.assign(out, merge(out, inner));
      });
    } catch (err) {
      this.log.error({ err, stageId: stage.stageId, type: r.type }, "server stage start failed");
      await ctx.finish("errored", `${r.type} failed to start: ${(err as Error).message}`);
    }
    return out;
  }

  /** Fire due timers, each in its own transaction with its attempt locked; returns how many fired. */
  async fireDue(limit = 100): Promise<number> {
    let fired = 0;
    for (; fired < limit; fired++) {
      const effects = await withTx(this.db, async (tx) => {
        const now = this.clock.now();
        const [t] = await queryRows<{ id: string; attempt_id: string; what: string }>(
          tx,
          sql`SELECT id, attempt_id, what FROM server_timers WHERE fire_at <= ${now} ORDER BY fire_at LIMIT 1 FOR UPDATE SKIP LOCKED`,
        );
        if (!t) return null;
        await tx.execute(sql`DELETE FROM server_timers WHERE id = ${t.id}`);
        const out = noEffects();
        const stage = await lockServerStage(tx, t.attempt_id);
        // The attempt ended already (decided, canceled): its remaining timers are dropped as they come due.
        if (!stage) return out;
        const kind = this.kinds[stage.type];
        const ctx = contextFor(tx, stage, now, out);
        if (t.what === STAGE_TIMEOUT) {
          await kind?.cancel?.(stage, ctx);
          await endChildrenOf(
            tx,
            stage.attemptId,
            now,
            `its parent stage '${stage.stageName}' exceeded its timeout`,
            out,
          );
          const ended = await endAttempt(tx, stage.attemptId, "timeout", {
            exitCode: null,
            reason: "stage exceeded its timeout",
            now,
          });
          if (ended) out.ended.push(ended);
          await dropTimers(tx, stage.attemptId);
        } else if (kind) {
          // A kind that fails on its timer ends its attempt as errored: the timer is gone either way, never fired again
          // and again.
          try {
            await tx.transaction(async (sp) => {
              const inner = noEffects();
              await kind.onTimer(stage, t.what, contextFor(sp, stage, now, inner));
              Object.assign(out, merge(out, inner));
            });
          } catch (err) {
            this.log.error(
              { err, stageId: stage.stageId, type: stage.type, timer: t.what },
              "server stage timer failed",
            );
            await ctx.finish("errored", `${stage.type} failed on its ${t.what} timer: ${(err as Error).message}`);
          }
        }
        return out;
      });
      if (!effects) break;
      this.after(effects);
    }
    return fired;
  }

  /**
   * Send a signal (an approval's decision) to the active attempt of stage `stageName` of run
   * `runId`, from whichever replica received it: checked by the kind, recorded and handled
   * in one transaction with the attempt locked.
   */
  async signal(runId: string, stageName: string, signal: ServerSignal): Promise<void> {
    const effects = await withTx(this.db, async (tx) => {
      const [row] = await queryRows<{
        id: string;
        state: string;
        type: string;
        runs_on: string;
        reason: string | null;
        attempt_id: string | null;
      }>(
        tx,
        sql`
        SELECT s.id, s.state, s.type, s.runs_on, s.reason,
          (SELECT a.id FROM attempts a WHERE a.stage_id = s.id AND a.state IN ('assigned', 'running') ORDER BY a.number DESC LIMIT 1) AS attempt_id
        FROM stages s WHERE s.run_id = ${runId} AND s.name = ${stageName}`,
      );
      if (!row) throw new NotFoundError("stage", stageName, `run ${runId} has no stage '${stageName.slice(0, 80)}'`);
      const kind = this.kinds[row.type];
      if (row.runs_on !== "server" || !kind?.onSignal)
        throw new InvalidError(
          `stage '${stageName}' is a ${row.type} stage: only approval and update-service stages take a signal`,
        );
      const stage = row.attempt_id ? await lockServerStage(tx, row.attempt_id) : null;
      if (!stage) {
        const why = row.reason ? ` (${row.reason})` : "";
        throw new ConflictError(
          `stage '${stageName}' is not waiting for a decision: it is ${row.state}${why}`,
          row.state,
        );
      }
      kind.checkSignal?.(stage, signal);
      const out = noEffects();
      const id = newId();
      await tx.insert(serverSignals).values({
        id,
        attemptId: stage.attemptId,
        runId,
        stageId: stage.stageId,
        kind: signal.kind,
        by: signal.by,
        via: signal.via,
        comment: signal.comment,
        at: signal.at,
      });
      await kind.onSignal(stage, signal, contextFor(tx, stage, this.clock.now(), out));
      await tx.execute(sql`UPDATE server_signals SET handled_at = ${this.clock.now()} WHERE id = ${id}`);
      // Every decision is in the audit log, in the transaction that takes it.
      await audit(tx, {
        actor: signal.userId
          ? { kind: "user", userId: signal.userId, name: signal.by }
          : signal.via === "alertmanager"
            ? ALERTMANAGER_ACTOR
            : SERVER_ACTOR,
        action: { approve: "approval.approved", reject: "approval.rejected", rollback: "service.rollback" }[
          signal.kind
        ],
        target: `${runId}/${stageName}`,
        details: { via: signal.via, comment: signal.comment },
        at: this.clock.now(),
      });
      return out;
    });
    this.after(effects);
  }

  /**
   * The run is being canceled (called by cancelRun inside its transaction, before the
   * attempt ends as canceled): the kind's `cancel` writes what the cancel means to it.
   */
  async cancelInTx(tx: Tx, attemptId: string, now: Date): Promise<RunEventRecord[]> {
    const stage = await lockServerStage(tx, attemptId);
    if (!stage) return [];
    const out = noEffects();
    await this.kinds[stage.type]?.cancel?.(stage, contextFor(tx, stage, now, out));
    await dropTimers(tx, attemptId);
    return out.events;
  }

  /**
   * Tell parents of the children that ended, each in its own transaction (server-child-delivery.ts); returns how many.
   */
  async deliverChildEnds(limit = 100): Promise<number> {
    let delivered = 0;
    for (; delivered < limit; delivered++) {
      const effects = await withTx(this.db, (tx) => deliverChildEnd(tx, this.kinds, this.clock.now(), this.log));
      if (!effects) break;
      this.after(effects);
    }
    return delivered;
  }

  /** After a commit: publish, run end effects, kick the scheduler for new children, and wake for any new timer. */
  private after(effects: CallEffects): void {
    if (effects.events.length > 0) this.hooks.publish(effects.events);
    if (effects.ended.length > 0) this.hooks.ended(effects.ended);
    for (const at of effects.timers) this.armAt(at.getTime());
    if (effects.spawned > 0) this.hooks.kick?.();
  }

  private async armFromDb(): Promise<void> {
    const [row] = await queryRows<{ at: string | Date | null }>(
      this.db,
      sql`SELECT min(fire_at) AS at FROM server_timers`,
    );
    this.wakeAt = null;
    if (this.wake) clearTimeout(this.wake);
    this.wake = null;
    // A timer still due after this tick is one another replica is firing (locked): look again shortly, not in a loop.
    if (!row?.at) return;
    const at = new Date(row.at).getTime();
    const now = this.clock.now().getTime();
    this.armAt(at <= now ? now + RECHECK_MS : at);
  }

  /** Wake at `at` (ms) unless already waking earlier. */
  private armAt(at: number): void {
    if (this.stopped || (this.wakeAt !== null && this.wakeAt <= at)) return;
    if (this.wake) clearTimeout(this.wake);
    this.wakeAt = at;
    const delay = Math.min(MAX_ARM_MS, Math.max(0, at - this.clock.now().getTime()));
    this.wake = setTimeout(() => {
      this.wake = null;
      this.wakeAt = null;
      this.tick();
    }, delay).unref();
  }
}
