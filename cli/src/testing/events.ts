// Builders of RunEvents for tests.
import { create, LogStream, RunEventSchema } from "@dockyard/proto";
import type { RunEvent } from "@dockyard/proto";

const T0 = Date.UTC(2024, 4, 1, 12, 0, 0);

/** Builds RunEvents with increasing seq for one run; `at` is seconds after 12:00:00 UTC. */
export class EventBuilder {
  private seq = 0n;
  constructor(readonly runId = "r-1") {}

  stage(
    at: number,
    stageName: string,
    state: string,
    extra: { attempt?: number; agentId?: string; agentName?: string; exitCode?: number; reason?: string } = {},
  ): RunEvent {
    return this.make(at, {
      case: "stage",
      value: {
        stageId: `s-${stageName}`,
        stageName,
        state,
        attempt: extra.attempt ?? 1,
        agentId: extra.agentId ?? "",
        agentName: extra.agentName ?? "",
        exitCode: extra.exitCode ?? 0,
        reason: extra.reason ?? "",
      },
    });
  }

  log(
    at: number,
    stageName: string,
    text: string,
    attempt = 1,
    stream: "stdout" | "stderr" | "system" = "stdout",
  ): RunEvent {
    const s = stream === "stderr" ? LogStream.STDERR : stream === "system" ? LogStream.SYSTEM : LogStream.STDOUT;
    return this.make(at, {
      case: "log",
      value: {
        stageId: `s-${stageName}`,
        stageName,
        attempt,
        chunkSeq: 0n,
        data: new TextEncoder().encode(text),
        stream: s,
      },
    });
  }

  run(at: number, state: string): RunEvent {
    return this.make(at, { case: "run", value: { state } });
  }

  private make(at: number, body: NonNullable<Parameters<typeof create<typeof RunEventSchema>>[1]>["body"]): RunEvent {
    this.seq += 1n;
    return create(RunEventSchema, { seq: this.seq, runId: this.runId, atMs: BigInt(T0 + at * 1000), body });
  }
}
