// RunService handlers: decode, call RunsService as the caller (the access guard, guard.ts, has
// authenticated it and checked its role), encode. Users, tokens and the audit log: user-handlers.ts.
import type { Logger } from "pino";
import {
  create,
  RunService,
  SubmitRunResponseSchema,
  ValidatePipelineResponseSchema,
  GetRunResponseSchema,
  ListRunsResponseSchema,
  CancelRunResponseSchema,
  RerunRunResponseSchema,
  DecideApprovalResponseSchema,
  ListAgentsResponseSchema,
  CreateJoinTokenResponseSchema,
  RevokeJoinTokenResponseSchema,
  RevokeAgentResponseSchema,
  DrainAgentResponseSchema,
  UndrainAgentResponseSchema,
  ListTokensResponseSchema,
  RemoveAgentResponseSchema,
  ProblemSchema,
  ListEnvironmentsResponseSchema,
  ListServicesResponseSchema,
  ServiceHistoryResponseSchema,
  RollbackServiceResponseSchema,
  ListArtifactsResponseSchema,
  GetArtifactResponseSchema,
  type ServiceHandlers,
} from "@dockyard/proto";
import {
  SetSecretResponseSchema,
  ListSecretsResponseSchema,
  DeleteSecretResponseSchema,
  SecretInfoSchema,
  type SecretInfo as SecretInfoMessage,
} from "@dockyard/proto";
import type { RunsService } from "../../runs-service";
import { SECRET_NAME_MAX, SECRET_VALUE_MAX_BYTES, type SecretInfo } from "../../secrets/secret-store";
import type { Db } from "../../store/db";
import type { NatsBus } from "../nats/nats-bus";
import { toAgent, toRun, toEnvironment, toTokenInfo } from "../convert";
import { toHistoryEntry, toService } from "../convert-services";
import { toArtifact } from "../convert-artifacts";
import { ArtifactsApi } from "../../artifacts-api";
import { watchRun } from "../run-watch";
import { actorOf, type Caller } from "./caller";
import type { Actor } from "../../store/audit";
import type { UserHandlers } from "./user-handlers";
import { toServiceError } from "./errors";
import { userUnary } from "./user-unary";
import { InvalidError } from "../../errors";
import { PIPELINE_LIMITS } from "@dockyard/pipeline";
import { encodeCursor } from "@dockyard/web";
import type { NotifyService } from "../../notify/service";
import { notifyHandlers } from "./notify-handlers";
import type { HookHandlers } from "./hook-handlers";
import type { RepoHandlers } from "./repo-handlers";
import type { AlertHandlers } from "./alert-handlers";
import type { ScheduleHandlers } from "./schedule-handlers";

type Handlers = ServiceHandlers<(typeof RunService)["method"]>;
type RunHandlers = Omit<
  Handlers,
  keyof UserHandlers | keyof HookHandlers | keyof RepoHandlers | keyof AlertHandlers | keyof ScheduleHandlers
>;

export function runHandlers(runs: RunsService, db: Db, bus: NatsBus, log: Logger, notify: NotifyService): RunHandlers {
  /** A unary handler given the call's user as the audit log's actor too. */
  const asUser = userUnary(log);
  const unary = <Req, Res>(fn: (req: Req, actor: Actor, caller: Caller) => Promise<Res>) =>
    asUser<Req, Res>((req, caller) => fn(req, actorOf(caller), caller));

  const checkSize = (yaml: Uint8Array) => {
    const bytes = yaml.length;
    if (bytes > PIPELINE_LIMITS.maxBytes) {
      throw new InvalidError(`pipeline file is ${bytes} bytes; the limit is ${PIPELINE_LIMITS.maxBytes}`);
    }
  };

  const artifacts = new ArtifactsApi(db, runs);

  return {
    ...notifyHandlers(notify, unary),
    listArtifacts: unary(async (req) =>
      create(ListArtifactsResponseSchema, {
        artifacts: (await artifacts.list(req.runId, req.stage || undefined)).map(toArtifact),
      }),
    ),
    getArtifact: unary(async (req) => {
      const a = await artifacts.get(req.id);
      return create(GetArtifactResponseSchema, { artifact: toArtifact(a), data: a.bytes });
    }),
    submitRun: unary(async (req, actor) => {
      checkSize(req.pipelineYaml);
      const run = await runs.submit(
        req.pipelineYaml,
        req.source || "api:dockyard.yml",
        req.defaultName,
        { commit: req.commit, sourceTar: req.sourceTar },
        actor,
      );
      return create(SubmitRunResponseSchema, { run: toRun(run) });
    }),
    validatePipeline: unary(async (req) => {
      checkSize(req.pipelineYaml);
      const problems = runs.validate(req.pipelineYaml, req.defaultName);
      return create(ValidatePipelineResponseSchema, { problems: problems.map((p) => create(ProblemSchema, p)) });
    }),
    getRun: unary(async (req) => create(GetRunResponseSchema, { run: toRun(await runs.get(req.runId)) })),
    listRuns: unary(async (req) => {
      // A limit of 0 is the default: proto3 cannot tell it from unset.
      const page = await runs.pageOf({
        limit: req.limit === 0 ? undefined : String(req.limit),
        state: req.state,
        pipeline: req.pipeline,
        branch: req.branch,
        since: req.since,
        until: req.until,
        cursor: req.cursor,
      });
      const last = page.runs.at(-1);
      return create(ListRunsResponseSchema, {
        runs: page.runs.map(toRun),
        nextCursor: page.more && last ? encodeCursor(last) : "",
      });
    }),
    cancelRun: unary(async (req, actor) =>
      create(CancelRunResponseSchema, { run: toRun(await runs.cancel(req.runId, actor)) }),
    ),
    rerunRun: unary(async (req, actor) =>
      create(RerunRunResponseSchema, { run: toRun(await runs.rerun(req.runId, req.failedOnly, actor)) }),
    ),
    decideApproval: unary(async (req, _actor, caller) => {
      const decision = { approve: req.approve, comment: req.comment, via: "cli" as const };
      return create(DecideApprovalResponseSchema, {
        run: toRun(await runs.decide(req.runId, req.stage, decision, caller)),
      });
    }),
    listEnvironments: unary(async () =>
      create(ListEnvironmentsResponseSchema, { environments: (await runs.environments()).map(toEnvironment) }),
    ),
    listServices: unary(async (req) =>
      create(ListServicesResponseSchema, {
        services: (await runs.services.list(req.name || undefined)).map(toService),
      }),
    ),
    serviceHistory: unary(async (req) =>
      create(ServiceHistoryResponseSchema, { entries: (await runs.services.history(req.name)).map(toHistoryEntry) }),
    ),
    rollbackService: unary(async (req, _actor, caller) => {
      const answer = await runs.services.rollback(
        req.name,
        { ...(req.revision > 0 && { revision: req.revision }), reason: req.reason, via: "cli" },
        caller,
      );
      return create(RollbackServiceResponseSchema, answer);
    }),
    listAgents: unary(async () =>
      create(ListAgentsResponseSchema, { agents: (await runs.agentAdmin.list()).map(toAgent) }),
    ),
    createJoinToken: unary(async (req, actor) =>
      create(CreateJoinTokenResponseSchema, await runs.agentAdmin.createJoinToken(req.description, actor)),
    ),
    revokeJoinToken: unary(async (req, actor) =>
      create(RevokeJoinTokenResponseSchema, await runs.agentAdmin.revokeJoinToken(req.id, actor)),
    ),
    revokeAgent: unary(async (req, actor) =>
      create(RevokeAgentResponseSchema, await runs.agentAdmin.revokeAgent(req.id, actor)),
    ),
    drainAgent: unary(async (req, actor) =>
      create(DrainAgentResponseSchema, { agent: toAgent(await runs.agentAdmin.drainAgent(req.id, true, actor)) }),
    ),
    undrainAgent: unary(async (req, actor) =>
      create(UndrainAgentResponseSchema, { agent: toAgent(await runs.agentAdmin.drainAgent(req.id, false, actor)) }),
    ),
    listTokens: unary(async () =>
      create(ListTokensResponseSchema, { tokens: (await runs.tokens.list()).map(toTokenInfo) }),
    ),
    removeAgent: unary(async (req, actor) =>
      create(RemoveAgentResponseSchema, await runs.agentAdmin.removeAgent(req.id, actor)),
    ),
    setSecret: unary(async (req, actor) => {
      checkSecretRequest(req.name, req.value);
      const { info, created } = await runs.setSecret(req.name, req.value, actor);
      return create(SetSecretResponseSchema, { secret: toSecretInfo(info), created });
    }),
    listSecrets: unary(async () =>
      create(ListSecretsResponseSchema, { secrets: (await runs.listSecrets()).map(toSecretInfo) }),
    ),
    deleteSecret: unary(async (req, actor) => {
      checkSecretRequest(req.name);
      await runs.deleteSecret(req.name, actor);
      return create(DeleteSecretResponseSchema, {});
    }),
    watchRun: (call) => {
      const abort = new AbortController();
      call.on("cancelled", () => abort.abort());
      call.on("close", () => abort.abort());
      (async () => {
        const runId = (await runs.get(call.request.runId)).id;
        for await (const event of watchRun(db, bus, {
          runId,
          afterSeq: Number(call.request.afterSeq),
          follow: call.request.follow,
          stage: call.request.stage,
          attempt: call.request.attempt,
          signal: abort.signal,
        })) {
          if (abort.signal.aborted) return;
          if (!call.write(event)) await new Promise((r) => call.once("drain", r));
        }
        call.end();
      })().catch((err: unknown) => {
        if (!abort.signal.aborted) call.emit("error", toServiceError(err, log));
      });
    },
  };
}

/** Bounds a secret request before anything else looks at it; messages never show the value. */
function checkSecretRequest(name: string, value?: Uint8Array): void {
  if (name === "") throw new InvalidError("secret name is required");
  if (name.length > SECRET_NAME_MAX)
    throw new InvalidError(`secret name is ${name.length} characters; the limit is ${SECRET_NAME_MAX}`);
  if (value && value.length > SECRET_VALUE_MAX_BYTES) {
    throw new InvalidError(
      `secret value is larger than ${SECRET_VALUE_MAX_BYTES / 1024} KiB (${SECRET_VALUE_MAX_BYTES} bytes)`,
    );
  }
}

function toSecretInfo(s: SecretInfo): SecretInfoMessage {
  return create(SecretInfoSchema, {
    name: s.name,
    createdAtMs: BigInt(s.createdAt.getTime()),
    updatedAtMs: BigInt(s.updatedAt.getTime()),
  });
}
