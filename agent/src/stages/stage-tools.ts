// The tools an agent's stage kinds share (see kind.ts), and their housekeeping:
// expired environments reaped on a timer and at start, the build cache measured.
import path from "node:path";
import type { Logger } from "pino";
import type { AgentConfig } from "../config";
import { DockerExecutor } from "../executor/docker";
import type { Executor } from "../executor/types";
import type { AgentClient } from "../transport/agent-client";
import { BuildCache } from "./build-cache";
import { Environments } from "./environments";
import type { StageTools } from "./kind";
import { RunSources } from "./run-sources";
import { OutputDirs } from "./output-dir";
import { ServiceHost } from "../services/service-host";
import { AgentArtifacts } from "./artifacts";

/** How often expired environments are reaped and the live list refreshed. */
const ENV_SWEEP_MS = 30_000;

/** `client` and `agentId` are read when used: both exist only once the agent registered. */
export function createStageTools(
  config: AgentConfig,
  executors: Executor[],
  client: () => AgentClient,
  agentId: () => string,
  log: Logger,
): StageTools {
  const docker = executors.find((e): e is DockerExecutor => e instanceof DockerExecutor)?.engine ?? null;
  return {
    executors,
    docker,
    buildkit: docker !== null,
    sources: new RunSources(path.resolve(config.stateDir, "sources"), client),
    environments: new Environments(docker, agentId, log),
    buildCache: new BuildCache(docker, config.buildCacheBytes, log),
    outputs: new OutputDirs(path.join(config.stateDir, "outputs")),
    services: new ServiceHost({
      docker,
      dir: path.resolve(config.stateDir, "services"),
      address: config.serviceAddress,
      owner: () => agentId(),
      log,
    }),
    pushgatewayUrl: config.pushgatewayUrl,
    artifacts: new AgentArtifacts(client),
    get agentId() {
      return agentId();
    },
  };
}

/** Sweep environments now and every ENV_SWEEP_MS, measure the build cache; returns the timer to clear. */
export async function startHousekeeping(tools: StageTools, log: Logger): Promise<NodeJS.Timeout> {
  const sweep = () => tools.environments.sweep().catch((err: unknown) => log.warn({ err }, "environment sweep failed"));
  void tools.buildCache.measure();
  await sweep();
  return setInterval(() => void sweep(), ENV_SWEEP_MS).unref();
}
