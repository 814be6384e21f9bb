// RunService handlers: decode, authenticate, call RunsService, encode.
import type * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import {
  create, RunService, SubmitRunResponseSchema, ValidatePipelineResponseSchema, GetRunResponseSchema,
  ListRunsResponseSchema, CancelRunResponseSchema, ListAgentsResponseSchema, CreateJoinTokenResponseSchema,
  RevokeJoinTokenResponseSchema, ProblemSchema, type ServiceHandlers,
} from "@dockyard/proto";
import type { RunsService } from "../../runs-service";
import type { Db } from "../../store/db";
import type { NatsBus } from "../nats/nats-bus";
import { toAgent, toRun } from "../convert";
import { watchRun } from "../run-watch";
import { bearer } from "./auth";
import { toServiceError } from "./errors";
import { InvalidError } from "../../errors";
import { PIPELINE_LIMITS } from "@dockyard/pipeline";

type Handlers = ServiceHandlers<(typeof RunService)["method"]>;

export function runHandlers(runs: RunsService, db: Db, bus: NatsBus, log: Logger): Handlers {
  /** Wrap a unary handler: authenticate, run, map errors. */
  function unary<Req, Res>(fn: (req: Req) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
    return (call, callback) => {
      (async () => {
        await runs.authenticate(bearer(call.metadata));
        return fn(call.request);
      })().then((res) => callback(null, res), (err: unknown) => callback(toServiceError(err, log)));
    };
  }

  const checkSize = (yaml: Uint8Array) => {
    const bytes = yaml.length;
    if (bytes > PIPELINE_LIMITS.maxBytes) {
      throw new InvalidError(`pipeline file is ${bytes} bytes; the limit is ${PIPELINE_LIMITS.maxBytes}`);
    }
  };

  return {
    submitRun: unary(async (req) => {
      checkSize(req.pipelineYaml);
      const run = await runs.submit(req.pipelineYaml, req.source || "api:dockyard.yml");
      return create(SubmitRunResponseSchema, { run: toRun(run) });
    }),
    validatePipeline: unary(async (req) => {
      checkSize(req.pipelineYaml);
      const problems = runs.validate(req.pipelineYaml);
      return create(ValidatePipelineResponseSchema, { problems: problems.map((p) => create(ProblemSchema, p)) });
    }),
    getRun: unary(async (req) => create(GetRunResponseSchema, { run: toRun(await runs.get(req.runId)) })),
    listRuns: unary(async (req) =>
      create(ListRunsResponseSchema, { runs: (await runs.list({ limit: req.limit, state: req.state })).map(toRun) })),
    cancelRun: unary(async (req) => create(CancelRunResponseSchema, { run: toRun(await runs.cancel(req.runId)) })),
    listAgents: unary(async () => create(ListAgentsResponseSchema, { agents: (await runs.agents()).map(toAgent) })),
    createJoinToken: unary(async (req) => create(CreateJoinTokenResponseSchema, await runs.createJoinToken(req.description))),
    revokeJoinToken: unary(async (req) => {
      await runs.revokeJoinToken(req.id);
      return create(RevokeJoinTokenResponseSchema, {});
    }),
    watchRun: (call) => {
      const abort = new AbortController();
      call.on("cancelled", () => abort.abort());
      call.on("close", () => abort.abort());
      (async () => {
        await runs.authenticate(bearer(call.metadata));
        const runId = (await runs.get(call.request.runId)).id;
        for await (const event of watchRun(db, bus, {
          runId, afterSeq: Number(call.request.afterSeq), follow: call.request.follow, stage: call.request.stage, signal: abort.signal,
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
