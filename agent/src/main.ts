// `dockyard agent`: load config, pick executors, start; first SIGTERM/SIGINT
// drains (finish running stages, take no new ones), a second one aborts.
import pino from "pino";
import { quietIpServerNameWarning } from "@dockyard/proto";
import path from "node:path";
import { AgentConfigError, loadAgentConfig, type AgentConfig } from "./config";
import { Agent } from "./agent";
import { DockerExecutor } from "./executor/docker";
import { ShellExecutor } from "./executor/shell";
import { dockerFromEnv } from "./executor/docker-client";
import type { Executor } from "./executor/types";
import { RegistrationRefusedError } from "./transport/register";
import { hostFacts, withHostFacts } from "./host-facts";

// The bundle's entry is this file (scripts/build.ts): `dockyard agent --check` loads it from here.
export { agentCheck } from "./check";

/** The executors this agent offers; throws when the configured one is unavailable. */
export async function chooseExecutors(config: AgentConfig): Promise<Executor[]> {
  const shell = () => new ShellExecutor({ workDir: path.resolve(config.stateDir, "work") });
  if (config.executor === "shell") return [shell()];
  const docker = new DockerExecutor({ docker: dockerFromEnv({ DOCKER_HOST: config.dockerHost }) });
  if (await docker.isAvailable()) return [docker];
  if (config.executor === "docker")
    throw new Error(`docker executor requested but no Docker engine answers at ${config.dockerHost}`);
  return [shell()];
}

export async function agentMain(env: Record<string, string | undefined> = process.env): Promise<void> {
  quietIpServerNameWarning();
  let config: AgentConfig;
  try {
    config = loadAgentConfig(env);
  } catch (err) {
    if (err instanceof AgentConfigError) {
      process.stderr.write(`dockyard agent: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const log = pino({ level: config.logLevel, base: { service: "dockyard-agent", agent: config.name } });
  let agent: Agent | null = null;
  let started = false;
  let signals = 0;
  const onSignal = (signal: string) => {
    signals++;
    if (!started) {
      // Nothing runs yet (a spool replay is idempotent): stop now.
      log.info({ signal }, "stopping during start");
      process.exit(0);
    }
    if (signals === 1) {
      log.info({ signal }, "draining; send the signal again to abort");
      agent!.drain().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    } else {
      log.warn({ signal }, "aborting running attempts");
      agent!.abort().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    }
  };
  // Installed before start, so a signal during registration or spool replay is not fatal by default.
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  process.on("SIGINT", () => onSignal("SIGINT"));
  try {
    const executors = await chooseExecutors(config);
    for (const e of executors) {
      if (e instanceof ShellExecutor && e.spawnerKind === "node") {
        log.warn(
          "native shell spawner not built (pnpm --filter @dockyard/agent build:native): shell stages start slower",
        );
      }
    }
    if (config.hostLabels) {
      const docker = executors.some((e) => e instanceof DockerExecutor)
        ? dockerFromEnv({ DOCKER_HOST: config.dockerHost })
        : undefined;
      config = { ...config, labels: withHostFacts(await hostFacts(docker), config.labels) };
    }
    agent = new Agent(config, {
      log,
      executors,
      onRefused: (err) => {
        process.stderr.write(`dockyard agent: ${err.message}\n`);
        void agent!.stop().finally(() => process.exit(1));
      },
    });
    await agent.start();
    started = true;
  } catch (err) {
    const message = err instanceof RegistrationRefusedError ? err.message : (err as Error).message;
    process.stderr.write(`dockyard agent: ${message}\n`);
    process.exit(1);
  }
}
