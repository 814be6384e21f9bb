// `watch`: for the watch window after an update, every replica of the new revision on this
// host must keep running; the first one that stops fails the step (the coordinator then
// rolls every host back to the warm old replicas). Polled from the engine's list, which
// is cheap and sees a replica killed, crashed, OOM-killed or removed alike.
import type Dockerode from "dockerode";
import { setTimeout as delay } from "node:timers/promises";
import { logTail, withTail } from "../docker/environment-docker";
import { hostReplicas } from "./host-state";
import { ReplicaError, replicaName } from "./replica";

export const WATCH_POLL_MS = 250;

export interface WatchSpec {
  service: string;
  /** This agent's id (whose replicas it watches). */
  owner: string;
  revision: number;
  /** Replicas 1..replicas must run; 0: whichever of the revision ran when the watch began. */
  replicas: number;
  watchMs: number;
  pollMs?: number;
}

/** @throws ReplicaError naming the replica, its exit code and its last lines; or the signal's reason. */
export async function watchHost(
  docker: Dockerode,
  spec: WatchSpec,
  log: (line: string) => void,
  signal: AbortSignal,
): Promise<void> {
  const end = Date.now() + spec.watchMs;
  let names: string[] | null =
    spec.replicas > 0
      ? Array.from({ length: spec.replicas }, (_, i) =>
          replicaName({ service: spec.service, owner: spec.owner, revision: spec.revision, index: i + 1 }),
        )
      : null;
  log(`watching ${names ? names.length : "the"} replicas of revision ${spec.revision} for ${spec.watchMs / 1000} s`);
  for (;;) {
    signal.throwIfAborted();
    const mine = (await hostReplicas(docker, spec.service, spec.owner)).filter((r) => r.revision === spec.revision);
    names ??= mine.filter((r) => r.running).map((r) => r.name);
    if (names.length === 0)
      throw new ReplicaError("exited", `no replica of revision ${spec.revision} runs on this host to watch`);
    for (const name of names) {
      const r = mine.find((x) => x.name === name);
      if (!r) throw new ReplicaError("exited", `replica ${name} is gone (its container was removed)`);
      if (!r.running) throw new ReplicaError("exited", await stoppedMessage(docker, r.containerId, name));
    }
    const left = end - Date.now();
    if (left <= 0) break;
    await delay(Math.min(spec.pollMs ?? WATCH_POLL_MS, left), undefined, { signal });
  }
  log(`all replicas of revision ${spec.revision} kept running for ${spec.watchMs / 1000} s`);
}

async function stoppedMessage(docker: Dockerode, containerId: string, name: string): Promise<string> {
  const container = docker.getContainer(containerId);
  const info = await container.inspect().catch(() => null);
  const code = info
    ? `exited with code ${info.State.ExitCode}${info.State.OOMKilled ? " (out of memory)" : ""}`
    : "stopped";
  return withTail(`replica ${name} ${code} during the watch window`, await logTail(container));
}
