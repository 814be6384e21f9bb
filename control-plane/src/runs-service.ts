// The client-facing operations, shared by the gRPC and HTTP edges: each edge
// decodes, calls one method here, encodes and maps errors.
import type { Problem, RegistrySpec } from "@dockyard/pipeline";
import { parsePipeline } from "@dockyard/pipeline";
import type { Db, Tx } from "./store/db";
import type { Clock } from "./clock";
import { getRun, listRuns, cancelRun, type RunWithStages } from "./store/runs";
import { createRun } from "./store/run-create";
import { isRunListParamError, parseRunListParams, type RunListParams, type RunListQuery } from "@dockyard/web";
import type { Actor } from "./store/audit";
import { resolveRunRef } from "./store/run-ref";
import { readStageLog, type StageLog, type StageLogRequest } from "./stage-logs";
import { resourcesOfKind } from "./store/resources";
import { environmentOf } from "./stages/deploy";
import { ENVIRONMENT_RESOURCE } from "@dockyard/proto";
import type { Logger } from "pino";
import { InvalidError } from "./errors";
import { auditRerun, checkRerunnable, stagesToReuse, uploadedSource } from "./rerun";
import type { ServerStageRunner } from "./stages/server-runner";
import { decideApproval, type Decision } from "./approval-decisions";
import { actorOf, type Caller } from "./transport/grpc/caller";
import { ServicesApi } from "./services/services-api";
import type { Scheduler } from "./scheduler/scheduler";
import type { RunEventRecord } from "./store/events";
import type { SecretInfo, SecretStore } from "./secrets/secret-store";
import type { NotifyService } from "./notify/service";
import { prepareRun, type PreparedRun, type SubmitExtras } from "./run-prepare";
import { AgentAdmin } from "./agent-admin";
import { TokenAuth } from "./token-auth";

export { MAX_SOURCE_BYTES, type PreparedRun, type SubmitExtras } from "./run-prepare";

export interface RunsServiceDeps {
  db: Db;
  /** Runs server-side stages (approval): decisions and cancels reach them through it. */
  serverStages?: ServerStageRunner;
  clock: Clock;
  scheduler: Scheduler;
  publish(events: RunEventRecord[]): void;
  /** Named secrets: submit checks that referenced ones exist; the edges set, list and delete them. */
  secrets: SecretStore;
  /** Checks at submit that the channels a `notify:` rule names exist. */
  notify?: Pick<NotifyService, "checkPipeline">;
  /** The server's registry, for pipelines that name none (DOCKYARD_REGISTRY*). */
  defaultRegistry?: RegistrySpec | null;
  /** Appended to every join token created, so agents pin the CA on first contact. */
  caFingerprint: string;
  log: Logger;
}

export type WrittenRun = Awaited<ReturnType<typeof createRun>> & { now: Date };

export class RunsService {
  /** Services (update-service): list, history, rollback; a rollback run is submitted here as its caller. */
  readonly services: ServicesApi;
  /** Agents and their join tokens: list, drain, revoke, remove. */
  readonly agentAdmin: AgentAdmin;
  /** API tokens: every call's authentication, and the token list. */
  readonly tokens: TokenAuth;

  constructor(private readonly deps: RunsServiceDeps) {
    this.agentAdmin = new AgentAdmin(deps);
    this.tokens = new TokenAuth(deps);
    this.services = new ServicesApi({
      db: deps.db,
      clock: deps.clock,
      ...(deps.serverStages && { signal: (run, stage, sig) => deps.serverStages!.signal(run, stage, sig) }),
      submit: async (yaml, caller) => (await this.submit(yaml, "api:rollback", undefined, {}, actorOf(caller))).id,
    });
  }

  /** Every problem in the file, with line and column; empty when valid. `defaultName`: see submit. */
  validate(yaml: string | Uint8Array, defaultName?: string): Problem[] {
    const result = parsePipeline(yaml, { defaultName: defaultName || undefined });
    return result.ok ? [] : result.problems;
  }

  /**
   * Validate, then write the run, its stages and edges in one transaction; nothing is written
   * for an invalid file. `defaultName` names the run when the file has no `name:`.
   */
  async submit(
    yaml: string | Uint8Array,
    source: string,
    defaultName: string | undefined,
    extra: SubmitExtras,
    startedBy: Actor,
  ): Promise<RunWithStages> {
    const prepared = await this.prepare(yaml, source, defaultName, extra, startedBy);
    const written = await this.write(this.deps.db, prepared);
    this.afterWrite(written);
    return written.run;
  }

  /**
   * Every check of submit (the file, the source, secrets and channels) without writing: what
   * `write` then writes. A schedule's tick calls the three steps itself, to write the run in
   * the transaction that advances the schedule.
   */
  async prepare(
    yaml: string | Uint8Array,
    source: string,
    defaultName: string | undefined,
    extra: SubmitExtras,
    startedBy: Actor,
    /** A caller's transaction for the checks' reads, when it holds one (embedded PGlite has one connection). */
    reader?: Db | Tx,
  ): Promise<PreparedRun> {
    return prepareRun(this.deps, yaml, source, defaultName, extra, startedBy, reader);
  }

  /** Write a prepared run with `db` (the pool, or a caller's transaction: then call afterWrite once it commits). */
  async write(db: Db | Tx, prepared: PreparedRun): Promise<WrittenRun> {
    const { scheduler } = this.deps;
    const now = this.deps.clock.now();
    const written = await createRun(db as Db, prepared.pipeline, prepared.text, prepared.origin, now, {
      limit: scheduler.batchSize,
      leaseTtlMs: scheduler.leaseTtlMs,
    });
    return { ...written, now };
  }

  /** What follows a committed write: its events are published and its placed stages dispatched. */
  afterWrite({ run, events, placed, now }: WrittenRun): void {
    const { scheduler } = this.deps;
    this.deps.publish(events);
    scheduler.dispatchPlaced(placed, now);
    // Stages that did not fit (or came after the batch) are the scheduler's.
    if (run.stages.some((s) => s.state === "queued") || placed.placements.length >= scheduler.batchSize)
      scheduler.kick();
    // A server-run stage ready now (an approval first in the run) starts at once, not at the runner's next beat.
    if (run.stages.some((s) => s.state === "queued" && s.runsOn === "server")) this.deps.serverStages?.tick();
  }

  /** Temporary environments their agents still report holding (the `environment` resources). */
  async environments() {
    return (await resourcesOfKind(this.deps.db, ENVIRONMENT_RESOURCE)).map(environmentOf);
  }

  /** The run `ref` names: its id, a unique prefix (6+ characters) or PIPELINE#NUMBER (see resolveRunRef). */
  async get(ref: string): Promise<RunWithStages> {
    return getRun(this.deps.db, await this.resolveRun(ref));
  }

  /** The id of the run `ref` names; InvalidError (malformed, ambiguous with candidates) or NotFoundError. */
  async resolveRun(ref: string): Promise<string> {
    return resolveRunRef(this.deps.db, ref);
  }

  /** The newest runs, with their stages: `limit` (0 or unset: DEFAULT_RUNS_LIMIT) up to MAX_RUNS_LIMIT, else InvalidError. */
  async list(opts: { limit?: number }): Promise<RunWithStages[]> {
    return (await this.pageOf({ limit: opts.limit ? String(opts.limit) : undefined })).runs;
  }

  /**
   * A page of the runs the list's parameters (as text: gRPC ListRuns' fields) ask for, checked by
   * parseRunListParams, the check `GET /api/v1/runs` makes: InvalidError naming the first bad one.
   */
  async pageOf(params: RunListParams): Promise<{ runs: RunWithStages[]; more: boolean }> {
    let query: RunListQuery;
    try {
      query = parseRunListParams(params);
    } catch (err) {
      if (isRunListParamError(err)) throw new InvalidError(err.message);
      throw err;
    }
    return this.page(query);
  }

  /** A page of the runs a checked query (parseRunListParams) matches, newest first (see listRuns). */
  async page(query: RunListQuery): Promise<{ runs: RunWithStages[]; more: boolean }> {
    return listRuns(this.deps.db, query);
  }

  /**
   * Cancel the run's open stages and stop its running attempts (their agents are told, and
   * the attempts count in dockyard_attempts_ended_total like any other end). ConflictError
   * when the run already finished: nothing about it changes.
   */
  async cancel(ref: string, actor: Actor): Promise<RunWithStages> {
    const runId = await this.resolveRun(ref);
    const { ended, events, serverEvents } = await cancelRun(
      this.deps.db,
      runId,
      this.deps.clock.now(),
      actor,
      this.deps.serverStages && ((tx, attemptId, now) => this.deps.serverStages!.cancelInTx(tx, attemptId, now)),
    );
    // Server kinds' cancel events come first, then the attempts' (tells their agents, counts them), then the rest.
    this.deps.publish(serverEvents);
    this.deps.scheduler.afterEnded(ended, "server");
    this.deps.publish(events);
    this.deps.scheduler.kick();
    return getRun(this.deps.db, runId);
  }

  /**
   * A new run of the finished run `ref` names: its file, source and commit again, started by `actor`. `failedOnly`:
   * the stages that succeeded (and need none that runs again) are not run again but keep their outputs (rerun.ts).
   * ConflictError for a run not finished, or with nothing failed for `failedOnly`; audited as run.rerun.
   */
  async rerun(ref: string, failedOnly: boolean, actor: Actor): Promise<RunWithStages> {
    const original = await this.get(ref);
    const reuse = stagesToReuse(original, failedOnly);
    checkRerunnable(original, failedOnly, reuse);
    const prepared = await this.prepare(
      original.pipelineYaml,
      original.source,
      original.name,
      { commit: original.commit || undefined, sourceTar: await uploadedSource(this.deps.db, original.id) },
      actor,
    );
    if (reuse.size > 0) prepared.origin.reuse = { fromRunId: original.id, outputs: reuse };
    const written = await this.write(this.deps.db, prepared);
    this.afterWrite(written);
    await auditRerun(this.deps.db, actor, original, written.run, failedOnly, written.now);
    return written.run;
  }

  /**
   * Approve or reject an approval stage as `caller` (see approval-decisions.ts); answers the run after the decision.
   */
  async decide(ref: string, stage: string, decision: Decision, caller: Caller): Promise<RunWithStages> {
    const runId = await decideApproval(
      { ...this.deps, resolveRun: (r) => this.resolveRun(r) },
      ref,
      stage,
      decision,
      caller,
    );
    return getRun(this.deps.db, runId);
  }

  /** One attempt's stored output, a page at a time (see readStageLog for its errors). */
  async stageLog(ref: string, stage: string, req: StageLogRequest): Promise<StageLog> {
    return readStageLog(this.deps.db, await this.resolveRun(ref), stage, req);
  }

  /** Create or replace a secret; the value is sealed before it reaches the database. */
  async setSecret(name: string, value: Uint8Array, actor: Actor): Promise<{ info: SecretInfo; created: boolean }> {
    return this.deps.secrets.set(name, value, this.deps.clock.now(), actor);
  }

  /** Names and times only; values never leave the store this way. */
  async listSecrets(): Promise<SecretInfo[]> {
    return this.deps.secrets.list();
  }

  /** NotFoundError when there is no such secret. */
  async deleteSecret(name: string, actor: Actor): Promise<void> {
    await this.deps.secrets.remove(name, this.deps.clock.now(), actor);
  }
}
