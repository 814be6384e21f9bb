// RunService handlers: decode, authenticate, call RunsService, encode.
import type * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import {
  create,
  RunService,
  SubmitRunResponseSchema,
  ValidatePipelineResponseSchema,
  GetRunResponseSchema,
  ListRunsResponseSchema,
  CancelRunResponseSchema,
  DecideApprovalResponseSchema,
  ListAgentsResponseSchema,
  CreateJoinTokenResponseSchema,
  RevokeJoinTokenResponseSchema,
  RevokeAgentResponseSchema,
  ListTokensResponseSchema,
  RemoveAgentResponseSchema,
  ProblemSchema,
  ListEnvironmentsResponseSchema,
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
import { watchRun } from "../run-watch";
import { bearer } from "./auth";
import { toServiceError } from "./errors";
import { InvalidError } from "../../errors";
import { PIPELINE_LIMITS } from "@dockyard/pipeline";

type Handlers = ServiceHandlers<(typeof RunService)["method"]>;

export function runHandlers(runs: RunsService, db: Db, bus: NatsBus, log: Logger): Handlers {
  /** Wrap a unary handler: authenticate, run, map errors. */
  function unary<Req, Res>(fn: (req: Req, tokenId: string) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
    return (call, callback) => {
      (async () => {
        const tokenId = await runs.authenticate(bearer(call.metadata));
        return fn(call.request, tokenId);
      })().then(
        (res) => callback(null, res),
        (err: unknown) => callback(toServiceError(err, log)),
      );
    };
  }

  const checkSize = (yaml: Uint8Array) => {
    const bytes = yaml.length;
    if (bytes > PIPELINE_LIMITS.maxBytes) {
      throw new InvalidError(`pipeline file is ${bytes} bytes; the limit is ${PIPELINE_LIMITS.maxBytes}`);
    }
  };

  return {
    submitRun: unary(async (req, tokenId) => {
      checkSize(req.pipelineYaml);
      const startedBy = (await runs.caller(tokenId)).user;
      const run = await runs.submit(req.pipelineYaml, req.source || "api:dockyard.yml", req.defaultName, {
        commit: req.commit,
        sourceTar: req.sourceTar,
        startedBy,
      });
      return create(SubmitRunResponseSchema, { run: toRun(run) });
    }),
    validatePipeline: unary(async (req) => {
      checkSize(req.pipelineYaml);
      const problems = runs.validate(req.pipelineYaml, req.defaultName);
      return create(ValidatePipelineResponseSchema, { problems: problems.map((p) => create(ProblemSchema, p)) });
    }),
    getRun: unary(async (req) => create(GetRunResponseSchema, { run: toRun(await runs.get(req.runId)) })),
    listRuns: unary(async (req) => create(ListRunsResponseSchema, { runs: (await runs.list({ limit: req.limit, state: req.state })).map(toRun) })),
    cancelRun: unary(async (req) => create(CancelRunResponseSchema, { run: toRun(await runs.cancel(req.runId)) })),
    decideApproval: unary(async (req, tokenId) => {
      const decision = { approve: req.approve, comment: req.comment, via: "cli" as const };
      return create(DecideApprovalResponseSchema, { run: toRun(await runs.decide(req.runId, req.stage, decision, await runs.caller(tokenId))) });
    }),
    listEnvironments: unary(async () => create(ListEnvironmentsResponseSchema, { environments: (await runs.environments()).map(toEnvironment) })),
    listAgents: unary(async () => create(ListAgentsResponseSchema, { agents: (await runs.agents()).map(toAgent) })),
    createJoinToken: unary(async (req) => create(CreateJoinTokenResponseSchema, await runs.createJoinToken(req.description))),
    revokeJoinToken: unary(async (req) => create(RevokeJoinTokenResponseSchema, await runs.revokeJoinToken(req.id))),
    revokeAgent: unary(async (req) => create(RevokeAgentResponseSchema, await runs.revokeAgent(req.id))),
    listTokens: unary(async () => create(ListTokensResponseSchema, { tokens: (await runs.tokenList()).map(toTokenInfo) })),
    removeAgent: unary(async (req) => create(RemoveAgentResponseSchema, await runs.removeAgent(req.id))),
    setSecret: unary(async (req) => {
      checkSecretRequest(req.name, req.value);
      const { info, created } = await runs.setSecret(req.name, req.value);
      return create(SetSecretResponseSchema, { secret: toSecretInfo(info), created });
    }),
    listSecrets: unary(async () => create(ListSecretsResponseSchema, { secrets: (await runs.listSecrets()).map(toSecretInfo) })),
    deleteSecret: unary(async (req) => {
      checkSecretRequest(req.name);
      await runs.deleteSecret(req.name);
      return create(DeleteSecretResponseSchema, {});
    }),
    watchRun: (call) => {
      const abort = new AbortController();
      call.on("cancelled", () => abort.abort());
      call.on("close", () => abort.abort());
      (async () => {
        await runs.authenticate(bearer(call.metadata));
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
  if (name.length > SECRET_NAME_MAX) throw new InvalidError(`secret name is ${name.length} characters; the limit is ${SECRET_NAME_MAX}`);
  if (value && value.length > SECRET_VALUE_MAX_BYTES) {
    throw new InvalidError(`secret value is larger than ${SECRET_VALUE_MAX_BYTES / 1024} KiB (${SECRET_VALUE_MAX_BYTES} bytes)`);
  }
}

function toSecretInfo(s: SecretInfo): SecretInfoMessage {
  return create(SecretInfoSchema, { name: s.name, createdAtMs: BigInt(s.createdAt.getTime()), updatedAtMs: BigInt(s.updatedAt.getTime()) });
}
