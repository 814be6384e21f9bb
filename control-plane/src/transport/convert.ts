// Store rows -> wire messages. One small function per message.
import {
  create,
  RunEventSchema,
  RunSchema,
  StageSchema,
  AgentSchema,
  AssignmentSchema,
  AttemptInfoSchema,
  EnvironmentSchema,
  StageOutputsSchema,
  TokenInfoSchema,
  type TokenInfo as TokenInfoMessage,
  type RunEvent,
  type Run,
  type Agent,
  type Assignment,
  type LogStream,
  type AttemptInfo,
  type Environment,
  type StageOutputs,
} from "@dockyard/proto";
import type { RunEventRecord, StagePayload } from "../store/events";
import type { RunWithStages } from "../store/runs";
import type { AttemptSummary } from "../store/stage-reads";
import type { AgentWithUsage as AgentRow } from "../store/agents";
import type { Placement } from "../store/claims";
import type { EnvironmentRecord } from "../stages/deploy";
import type { TokenInfo } from "../store/tokens";
import type { StageOutputsRow } from "../store/schema";
import { stageSpecFor, type AssignmentInputs } from "../stages/assignment";
import { outputsSummary } from "../stages/summary";

const ms = (d: Date | null | undefined): bigint => (d ? BigInt(d.getTime()) : 0n);

export function toRunEvent(e: RunEventRecord): RunEvent {
  const base = { seq: BigInt(e.seq), runId: e.runId, atMs: ms(e.at) };
  if (e.kind === "log") {
    const p = e.payload as { stageName?: string; attempt?: number };
    return create(RunEventSchema, {
      ...base,
      body: {
        case: "log",
        value: {
          stageId: e.stageId ?? "",
          stageName: p.stageName ?? "",
          attempt: p.attempt ?? 0,
          chunkSeq: BigInt(e.chunkSeq ?? 0),
          data: e.data ?? new Uint8Array(),
          stream: (e.stream ?? 0) as LogStream,
        },
      },
    });
  }
  if (e.kind === "stage") {
    const p = e.payload as unknown as StagePayload;
    return create(RunEventSchema, {
      ...base,
      body: {
        case: "stage",
        value: {
          stageId: e.stageId ?? "",
          stageName: p.stageName,
          state: p.state,
          attempt: p.attempt,
          agentId: p.agentId,
          agentName: p.agentName ?? "",
          exitCode: p.exitCode ?? undefined,
          reason: p.reason,
        },
      },
    });
  }
  if (e.kind === "approval") {
    const p = e.payload;
    const text = (k: string) => (typeof p[k] === "string" ? (p[k] as string) : "");
    const deadline = Date.parse(text("deadline"));
    return create(RunEventSchema, {
      ...base,
      body: {
        case: "approval",
        value: {
          stageId: e.stageId ?? "",
          stageName: text("stageName"),
          action: text("action"),
          by: text("by"),
          via: text("via"),
          comment: text("comment"),
          deadlineMs: BigInt(Number.isFinite(deadline) ? deadline : 0),
          reason: text("reason"),
          onTimeout: text("onTimeout"),
        },
      },
    });
  }
  return create(RunEventSchema, { ...base, body: { case: "run", value: { state: String(e.payload.state ?? "") } } });
}

export function toRun(run: RunWithStages): Run {
  return create(RunSchema, {
    id: run.id,
    name: run.name,
    state: run.state,
    createdAtMs: ms(run.createdAt),
    finishedAtMs: ms(run.finishedAt),
    source: run.source,
    startedBy: run.startedByName ?? "",
    commit: run.commit,
    branch: run.branch,
    stages: run.stages.map((s) =>
      create(StageSchema, {
        id: s.id,
        name: s.name,
        state: s.state,
        needs: s.needs,
        attempts: s.attempts,
        exitCode: s.exitCode ?? undefined,
        reason: s.reason ?? "",
        agentId: s.agentId ?? "",
        startedAtMs: ms(s.startedAt),
        finishedAtMs: ms(s.finishedAt),
        attemptHistory: s.attemptHistory.map(toAttemptInfo),
        type: s.type,
        outputs: toOutputs(s.outputs, s.type),
      }),
    ),
  });
}

export function toAttemptInfo(a: AttemptSummary): AttemptInfo {
  return create(AttemptInfoSchema, {
    number: a.number,
    state: a.state,
    agentId: a.agentId,
    agentName: a.agentName ?? "",
    assignedAtMs: ms(a.assignedAt),
    startedAtMs: ms(a.startedAt),
    finishedAtMs: ms(a.finishedAt),
    exitCode: a.exitCode ?? undefined,
    reason: a.reason ?? "",
  });
}

export function toAgent(a: AgentRow): Agent {
  return create(AgentSchema, {
    id: a.id,
    name: a.name,
    hostname: a.hostname,
    state: a.state,
    labels: a.labels,
    capacity: a.capacity,
    slotsUsed: a.slotsUsed,
    lastHeartbeatMs: ms(a.lastHeartbeatAt),
    version: a.version,
    capabilities: a.capabilities,
    revokedAtMs: ms(a.revokedAt),
    drainRequestedAtMs: ms(a.drainRequestedAt),
  });
}

export function toTokenInfo(t: TokenInfo): TokenInfoMessage {
  return create(TokenInfoSchema, {
    id: t.id,
    kind: t.kind,
    description: t.description,
    createdAtMs: ms(t.createdAt),
    lastUsedAtMs: ms(t.lastUsedAt),
    revokedAtMs: ms(t.revokedAt),
    user: t.user,
  });
}

export function toEnvironment(e: EnvironmentRecord): Environment {
  return create(EnvironmentSchema, {
    id: e.id,
    runId: e.runId,
    stageName: e.stageName,
    agentId: e.agentId,
    agentName: e.agentName,
    owner: e.owner,
    createdAtMs: ms(e.createdAt),
    expiresAtMs: ms(e.expiresAt),
    services: e.services,
  });
}

/** A stage's stored outputs on the wire. */
export function toOutputs(o: StageOutputsRow | null | undefined, type: string): StageOutputs | undefined {
  if (!o) return undefined;
  return create(StageOutputsSchema, {
    values: o.values,
    image: o.image ? { ...o.image, sizeBytes: BigInt(o.image.sizeBytes) } : undefined,
    tests: o.tests,
    summary: outputsSummary(type, o),
  });
}

/** An attempt's assignment; `inputs` carries outputs, secrets and the registry password when the spec needs them. */
export function toAssignment(
  p: Omit<Placement, "agentName" | "assignedAt" | "leaseExpiresAt">,
  lease: { leaseTtlMs: number; leaseFenceMs: number },
  inputs?: AssignmentInputs,
): Assignment {
  return create(AssignmentSchema, {
    attemptId: p.attemptId,
    leaseId: p.leaseId,
    runId: p.runId,
    stageId: p.stageId,
    stageName: p.stageName,
    attemptNumber: p.attemptNumber,
    leaseTtlMs: BigInt(lease.leaseTtlMs),
    fenceMs: BigInt(lease.leaseFenceMs),
    spec: stageSpecFor(p.spec, p.timeoutMs, inputs),
  });
}
