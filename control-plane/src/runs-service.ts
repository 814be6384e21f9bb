// The client-facing operations, shared by the gRPC and HTTP edges: each edge
// decodes, calls one method here, encodes and maps errors.
import {
  parsePipeline,
  formatProblems,
  secretsKeyOf,
  sourceUseOf,
  type PipelineSpec,
  type Problem,
  type RegistrySpec,
} from "@dockyard/pipeline";
import type { Db, Tx } from "./store/db";
import type { Clock } from "./clock";
import {
  createRun,
  getRun,
  listRuns,
  cancelRun,
  type RunListFilter,
  type RunOrigin,
  type RunWithStages,
} from "./store/runs";
import { RUN_STATES, isRunState } from "./domain/states";
import { DEFAULT_RUNS_LIMIT, MAX_RUNS_LIMIT } from "@dockyard/web";
import { listAgents, removeAgent, revokeAgent, type AgentWithUsage } from "./store/agents";
import { audit, type Actor } from "./store/audit";
import { loseAgentAttempts } from "./store/attempts";
import { resolveRunRef } from "./store/run-ref";
import { readStageLog, type StageLog, type StageLogRequest } from "./stage-logs";
import { resourcesOfKind } from "./store/resources";
import { environmentOf } from "./stages/deploy";
import { ENVIRONMENT_RESOURCE } from "@dockyard/proto";
import type { Logger } from "pino";
import {
  authenticateApi,
  createJoinToken,
  listTokens,
  revokeJoinToken,
  touchToken,
  type ApiCaller,
  type TokenInfo,
} from "./store/tokens";
import { InvalidError } from "./errors";
import { requestDrain } from "./store/agent-drain";
import { auditRerun, checkRerunnable, stagesToReuse, uploadedSource } from "./rerun";
import type { ServerStageRunner } from "./stages/server-runner";
import { decideApproval, type Decision } from "./approval-decisions";
import { actorOf, type Caller } from "./transport/grpc/caller";
import { ServicesApi } from "./services/services-api";
import type { Scheduler } from "./scheduler/scheduler";
import type { RunEventRecord } from "./store/events";
import type { SecretInfo, SecretStore } from "./secrets/secret-store";
import type { NotifyService } from "./notify/service";

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

const UUID = /^[0-9a-f-]{36}$/;
/** Largest uploaded source (a tar of the CLI's directory). */
export const MAX_SOURCE_BYTES = 32 * 1024 * 1024;

/** What a submit may carry besides the file (the CLI sends both). */
export interface SubmitExtras {
  commit?: string;
  /** The pushed branch, for a run a git push started. */
  branch?: string;
  sourceTar?: Uint8Array;
}
/** A checked pipeline, ready for RunsService.write. */
export interface PreparedRun {
  pipeline: PipelineSpec;
  text: string;
  origin: RunOrigin;
}

export type WrittenRun = Awaited<ReturnType<typeof createRun>> & { now: Date };

/** A token's "last used" is written at most this often (a write per call would cost more than the call). */
const TOKEN_USE_RECORD_MS = 60_000;

export class RunsService {
  /** Services (update-service): list, history, rollback; a rollback run is submitted here as its caller. */
  readonly services: ServicesApi;

  constructor(private readonly deps: RunsServiceDeps) {
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
    const result = parsePipeline(yaml, { defaultName: defaultName || undefined });
    if (!result.ok) {
      const lines = formatProblems(result.problems, source.replace(/^[a-z]+:/, "") || "dockyard.yml").split("\n");
      throw new InvalidError(
        `pipeline is invalid (${result.problems.length} problem${result.problems.length === 1 ? "" : "s"}):\n${lines.join("\n")}`,
        lines,
      );
    }
    const sourceTar = extra.sourceTar?.length ? Buffer.from(extra.sourceTar) : null;
    if (sourceTar && sourceTar.length > MAX_SOURCE_BYTES) {
      throw new InvalidError(
        `the uploaded source is ${sourceTar.length} bytes; the limit is ${MAX_SOURCE_BYTES} (use a git source: for bigger ones)`,
      );
    }
    if (sourceTar && !looksLikeTar(sourceTar)) {
      throw new InvalidError(
        "the uploaded source is not a tar archive (POSIX ustar, in 512-byte blocks): send the directory as `dockyard run` packs it",
      );
    }
    const commit = extra.commit ?? "";
    if (commit && !/^[0-9a-f]{7,64}$/.test(commit))
      throw new InvalidError("commit must be 7-64 lowercase hex characters");
    const registry = result.pipeline.registry ?? this.deps.defaultRegistry ?? null;
    const usesSource = result.pipeline.stages.some((st) => sourceUseOf(st.type) !== null);
    const needing = [
      ...new Set(result.pipeline.stages.filter((st) => sourceUseOf(st.type) === "needs").map((st) => st.type)),
    ];
    if (needing.length > 0 && result.pipeline.source.kind === "upload" && !sourceTar) {
      throw new InvalidError(
        `this pipeline has ${needing.join(" or ")} stages and no git source:, so it needs the directory uploaded with it (dockyard run does that)`,
      );
    }
    await this.checkSecretsExist(result.pipeline, registry, reader);
    await this.deps.notify?.checkPipeline(result.pipeline, reader);
    const text = typeof yaml === "string" ? yaml : Buffer.from(yaml).toString("utf8");
    const origin = {
      source: source.slice(0, 200),
      commit,
      branch: (extra.branch ?? "").slice(0, 255),
      sourceTar: usesSource ? sourceTar : null,
      defaultRegistry: registry,
      startedBy,
    };
    return { pipeline: result.pipeline, text, origin };
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

  /**
   * The newest runs, with their stages: `limit` (0 or unset: DEFAULT_RUNS_LIMIT) up to MAX_RUNS_LIMIT.
   * InvalidError for a larger limit or a state that is not a run state.
   */
  async list(opts: { limit?: number; state?: string; branch?: string }): Promise<RunWithStages[]> {
    return (await this.page(opts)).runs;
  }

  /** A page of the runs matching `f` (see listRuns), checked as `list` checks. */
  async page(f: Partial<RunListFilter>): Promise<{ runs: RunWithStages[]; more: boolean }> {
    const limit = f.limit || DEFAULT_RUNS_LIMIT;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_RUNS_LIMIT) {
      throw new InvalidError(
        `invalid limit ${String(f.limit).slice(0, 32)}: expected a whole number from 1 to ${MAX_RUNS_LIMIT}`,
      );
    }
    if (f.state && !isRunState(f.state)) {
      throw new InvalidError(`invalid state '${f.state.slice(0, 32)}': expected one of ${RUN_STATES.join(", ")}`);
    }
    if (f.branch && f.branch.length > 255)
      throw new InvalidError(`invalid branch: ${f.branch.length} characters; the limit is 255`);
    return listRuns(this.deps.db, { ...f, limit, state: f.state || undefined, branch: f.branch || undefined });
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

  async agents(): Promise<AgentWithUsage[]> {
    return listAgents(this.deps.db);
  }

  /** A new join token, `<secret>.<CA fingerprint>`; only the secret's hash is stored. */
  async createJoinToken(description: string, actor: Actor) {
    if (description.length > 200) throw new InvalidError("description is longer than 200 characters");
    const { id, token } = await createJoinToken(this.deps.db, description, actor, this.deps.clock.now());
    this.deps.log.info({ joinTokenId: id }, "join token created");
    return { id, token: `${token}.${this.deps.caFingerprint}` };
  }

  /**
   * Revoke a join token and every agent registered with it: their sessions end now (an
   * agent notices at its next heartbeat), their attempts end as lost and retry by policy.
   */
  async revokeJoinToken(id: string, actor: Actor): Promise<{ agentsRevoked: number }> {
    checkId(id, "join token id");
    const agentIds = await revokeJoinToken(this.deps.db, id, actor, this.deps.clock.now());
    const ended = await this.endRevoked(agentIds, "agent's join token was revoked");
    this.deps.log.warn({ joinTokenId: id, agentIds, attemptsLost: ended }, "join token revoked");
    return { agentsRevoked: agentIds.length };
  }

  /** Revoke one agent: its session ends now, its id cannot register again, its attempts end as lost. */
  async revokeAgent(id: string, actor: Actor): Promise<{ attemptsLost: number }> {
    checkId(id, "agent id");
    await revokeAgent(this.deps.db, id, actor, this.deps.clock.now());
    const attemptsLost = await this.endRevoked([id], "agent was revoked");
    this.deps.log.warn({ agentId: id, attemptsLost }, "agent revoked");
    return { attemptsLost };
  }

  /** Drain or undrain one agent as an admin (see requestDrain): it takes no new work while drained. */
  async drainAgent(id: string, drain: boolean, actor: Actor): Promise<{ name: string; state: string }> {
    checkId(id, "agent id");
    const result = await requestDrain(this.deps.db, id, drain, actor, this.deps.clock.now());
    this.deps.log.info({ agentId: id, drain, state: result.state }, drain ? "agent drained" : "agent undrained");
    return result;
  }

  /** Delete an agent that is gone (revoked, lost, offline) and holds no live work; see removeAgent for the errors. */
  async removeAgent(id: string, actor: Actor): Promise<{ name: string; state: string }> {
    checkId(id, "agent id");
    const removed = await removeAgent(this.deps.db, id);
    // After the delete (it re-checks the agent is gone in its own statement): recorded once it happened.
    await audit(this.deps.db, {
      actor,
      action: "agent.removed",
      target: id,
      details: removed,
      at: this.deps.clock.now(),
    });
    this.deps.log.info({ agentId: id, name: removed.name, state: removed.state }, "agent removed");
    return removed;
  }

  private async endRevoked(agentIds: string[], reason: string): Promise<number> {
    // The agent may still run them (cut off, it learns of the revocation late): their retries wait
    // until its fence has stopped them.
    const ended = await loseAgentAttempts(this.deps.db, agentIds, this.deps.clock.now(), reason, {
      retryMarginMs: this.deps.scheduler.retryMarginMs,
    });
    this.deps.scheduler.afterEnded(ended, "server");
    return ended.length;
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

  /**
   * Every secret the pipeline refers to must exist at submit (it may still be deleted before
   * a stage runs; that stage then errors). InvalidError names each missing one and where it is used.
   */
  private async checkSecretsExist(
    pipeline: PipelineSpec,
    registry: RegistrySpec | null,
    reader: Db | Tx | undefined,
  ): Promise<void> {
    const uses = secretUses(pipeline);
    if (registry?.passwordSecret)
      uses.set(
        registry.passwordSecret,
        new Set([pipeline.registry ? "registry.password" : "the server's DOCKYARD_REGISTRY_PASSWORD_SECRET"]),
      );
    if (uses.size === 0) return;
    const missing = await this.deps.secrets.missing([...uses.keys()], reader);
    if (missing.length === 0) return;
    const lines = missing.map(
      (name) =>
        `secret '${name}' does not exist (${[...(uses.get(name) ?? [])].join(", ")}); create it with: dockyard secret set ${name}`,
    );
    throw new InvalidError(lines.join("\n"), lines);
  }

  /**
   * Resolve an API bearer token to its user; throws UnauthenticatedError. Read on every call
   * (one indexed join), so a revoked token or a disabled user is refused at once.
   */
  async authenticate(token: string): Promise<ApiCaller> {
    const caller = await authenticateApi(this.deps.db, token);
    this.noteUse(caller.tokenId);
    return caller;
  }

  /** API token id -> when this replica last recorded its use (ms). */
  private readonly used = new Map<string, number>();

  /** Records a token's "last used" at most once a minute per token and replica, off the request's path. */
  private noteUse(id: string): string {
    const now = this.deps.clock.now();
    if (now.getTime() - (this.used.get(id) ?? 0) < TOKEN_USE_RECORD_MS) return id;
    if (this.used.size > 10_000) this.used.clear();
    this.used.set(id, now.getTime());
    touchToken(this.deps.db, "api", id, now, TOKEN_USE_RECORD_MS).catch((err: unknown) =>
      this.deps.log.warn({ err, tokenId: id }, "token use not recorded"),
    );
    return id;
  }

  /** Join and API tokens: ids, descriptions and times; never a secret or a hash. */
  async tokenList(): Promise<TokenInfo[]> {
    return listTokens(this.deps.db);
  }
}

function checkId(id: string, what: string): string {
  if (!UUID.test(id)) throw new InvalidError(`${what} must be a UUID, got '${id.slice(0, 64)}'`);
  return id;
}

/**
 * Secret name -> the env paths where stages use it, in stage order. A stage ref equal to a
 * pipeline ref is the inherited one, reported once at the pipeline's `env`; a pipeline ref
 * that every stage overrides is used nowhere and not required.
 */
function secretUses(pipeline: PipelineSpec): Map<string, Set<string>> {
  const uses = new Map<string, Set<string>>();
  const add = (name: string, where: string) => {
    const set = uses.get(name) ?? new Set<string>();
    set.add(where);
    uses.set(name, set);
  };
  const key = (r: { env: string; secret: string; asFile: boolean }) => `${r.env}\0${r.secret}\0${r.asFile}`;
  const inherited = new Set(pipeline.secrets.map(key));
  for (const stage of pipeline.stages) {
    const field = secretsKeyOf(stage.type);
    for (const r of stage.secrets)
      add(r.secret, inherited.has(key(r)) ? `env.${r.env}` : `stages.${stage.name}.${field}.${r.env}`);
  }
  return uses;
}

/** A POSIX tar: whole 512-byte blocks, and a first header with the ustar magic (an empty archive is all zeros). */
function looksLikeTar(tar: Buffer): boolean {
  if (tar.length === 0 || tar.length % 512 !== 0) return false;
  if (tar.subarray(0, 512).every((b) => b === 0)) return true;
  return tar.subarray(257, 262).toString("latin1") === "ustar";
}
