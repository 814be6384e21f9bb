import type { StageResources } from "@dockyard/pipeline";

/** Container limits on the wire (0 = the agent's default). */
export function toLimits(r: StageResources): { memoryBytes: bigint; nanoCpus: bigint; pids: bigint } {
  return { memoryBytes: BigInt(r.memoryBytes ?? 0), nanoCpus: BigInt(r.nanoCpus ?? 0), pids: BigInt(r.pids ?? 0) };
}
