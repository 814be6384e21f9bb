// The stable JSON shapes of `--json` output. Runs, stages, attempts and agents are the
// HTTP API's shapes (defined once, in @dockyard/web's types, imported here as types only),
// so `dockyard runs --json` and `GET /api/v1/runs` print the same objects. Times are
// ISO-8601 UTC strings (null when unset), a value that does not exist is null, durations
// and seqs are numbers, maps are plain objects. Fields may be added; none are renamed or
// removed without a major version.
import { TextDecoder } from "node:util";
import { LogStream } from "@dockyard/proto";
import type { Agent, AttemptInfo, Run, RunEvent, Stage, TokenInfo } from "@dockyard/proto";
import type { AgentView, AttemptView, RunView, StageView, TokenView } from "@dockyard/web";
import { isoOrNull } from "./format/time";

/** One stage of a run, with every attempt it made. */
export type StageJson = StageView;

/** One attempt of a stage (lost and timed-out ones included). */
export type AttemptJson = AttemptView;

/** A run (`runs --json` prints an array of these; `run --json` prints one). */
export type RunJson = RunView;

/** An agent (`agents --json` prints an array of these). */
export type AgentJson = AgentView;

/** A join or API token (`token list --json` prints an array of these); never its secret. */
export type TokenJson = TokenView;

/** One line of `run --watch --json` / `watch --json` (newline-delimited JSON). */
export type RunEventJson = { seq: number; runId: string; at: string | null } & (
  | { type: "stage"; stage: StageEventJson }
  | {
      type: "log";
      stage: { id: string; name: string };
      attempt: number;
      chunkSeq: number;
      stream: string;
      text: string;
      base64: string;
    }
  | { type: "run"; state: string }
  | { type: "unknown" }
);

/** A stage's status change in an event; what does not exist (yet) is null. */
export interface StageEventJson {
  id: string;
  name: string;
  state: string;
  /** The attempt the change belongs to; null before the first attempt (pending, queued, skipped). */
  attempt: number | null;
  agentId: string | null;
  agentName: string | null;
  exitCode: number | null;
  reason: string | null;
}

/** JSON shape of a Stage. */
export function stageJson(s: Stage): StageJson {
  return {
    id: s.id,
    name: s.name,
    type: s.type,
    state: s.state,
    needs: [...s.needs],
    attempts: s.attempts,
    exitCode: s.exitCode ?? null,
    reason: s.reason || null,
    agentId: s.agentId || null,
    startedAt: isoOrNull(s.startedAtMs),
    finishedAt: isoOrNull(s.finishedAtMs),
    attemptHistory: s.attemptHistory.map(attemptJson),
    outputs: s.outputs
      ? {
          values: { ...s.outputs.values },
          image: s.outputs.image
            ? {
                ref: s.outputs.image.ref,
                id: s.outputs.image.id,
                digest: s.outputs.image.digest || null,
                sizeBytes: Number(s.outputs.image.sizeBytes),
                layers: s.outputs.image.layers,
              }
            : null,
          tests: s.outputs.tests
            ? {
                passed: s.outputs.tests.passed,
                failed: s.outputs.tests.failed,
                skipped: s.outputs.tests.skipped,
                errors: s.outputs.tests.errors,
                total: s.outputs.tests.total,
              }
            : null,
          summary: s.outputs.summary || null,
        }
      : null,
  };
}

/** JSON shape of an AttemptInfo. */
export function attemptJson(a: AttemptInfo): AttemptJson {
  return {
    number: a.number,
    state: a.state,
    agentId: a.agentId || null,
    agentName: a.agentName || null,
    assignedAt: isoOrNull(a.assignedAtMs),
    startedAt: isoOrNull(a.startedAtMs),
    finishedAt: isoOrNull(a.finishedAtMs),
    exitCode: a.exitCode ?? null,
    reason: a.reason || null,
  };
}

/** JSON shape of a Run. */
export function runJson(r: Run): RunJson {
  const created = Number(r.createdAtMs);
  const finished = Number(r.finishedAtMs);
  return {
    id: r.id,
    name: r.name,
    state: r.state,
    startedBy: r.startedBy || null,
    source: r.source || null,
    branch: r.branch || null,
    commit: r.commit || null,
    createdAt: new Date(created).toISOString(),
    finishedAt: isoOrNull(finished),
    durationMs: created > 0 && finished > 0 ? finished - created : null,
    stages: r.stages.map(stageJson),
  };
}

/** JSON shape of an Agent. */
export function agentJson(a: Agent): AgentJson {
  return {
    id: a.id,
    name: a.name,
    hostname: a.hostname || null,
    state: a.state,
    labels: { ...a.labels },
    capacity: a.capacity,
    slotsUsed: a.slotsUsed,
    lastHeartbeatAt: isoOrNull(a.lastHeartbeatMs),
    version: a.version || null,
    capabilities: [...a.capabilities],
    revokedAt: isoOrNull(a.revokedAtMs),
    drainRequestedAt: isoOrNull(a.drainRequestedAtMs),
  };
}

/** JSON shape of a TokenInfo (`token list --json`): the HTTP API's TokenView. */
export function tokenJson(t: TokenInfo): TokenJson {
  return {
    id: t.id,
    kind: t.kind === "api" ? "api" : "join",
    user: t.user || null,
    description: t.description || null,
    createdAt: new Date(Number(t.createdAtMs)).toISOString(),
    lastUsedAt: isoOrNull(t.lastUsedAtMs),
    revokedAt: isoOrNull(t.revokedAtMs),
  };
}

/** JSON shape of a RunEvent; log data is given as UTF-8 text (lossy) and base64 (exact). */
export function runEventJson(ev: RunEvent): RunEventJson {
  const head = { seq: Number(ev.seq), runId: ev.runId, at: isoOrNull(ev.atMs) };
  const b = ev.body;
  switch (b.case) {
    case "stage": {
      const s = b.value;
      return {
        ...head,
        type: "stage",
        stage: {
          id: s.stageId,
          name: s.stageName,
          state: s.state,
          attempt: s.attempt || null,
          agentId: s.agentId || null,
          agentName: s.agentName || null,
          exitCode: s.exitCode ?? null,
          reason: s.reason || null,
        },
      };
    }
    case "log": {
      const l = b.value;
      return {
        ...head,
        type: "log",
        stage: { id: l.stageId, name: l.stageName },
        attempt: l.attempt,
        chunkSeq: Number(l.chunkSeq),
        stream: streamName(l.stream),
        text: new TextDecoder().decode(l.data),
        base64: Buffer.from(l.data).toString("base64"),
      };
    }
    case "run":
      return { ...head, type: "run", state: b.value.state };
    default:
      return { ...head, type: "unknown" };
  }
}

/** "stdout" | "stderr" | "system" | "unspecified". */
export function streamName(stream: LogStream): string {
  switch (stream) {
    case LogStream.STDOUT:
      return "stdout";
    case LogStream.STDERR:
      return "stderr";
    case LogStream.SYSTEM:
      return "system";
    default:
      return "unspecified";
  }
}

/** Pretty JSON text with a trailing newline. */
export function toJsonText(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
