// `service-step`: one host's step of a service update, spawned by update-service as a child
// pinned to this agent (see pipeline's kinds/service-step.ts for the actions). The work is in
// ../services/: read-service-file.ts (read), roll.ts (roll), watch.ts (watch). Not a process:
// it runs in the agent (taskHandle) and drives the engine and the host's HAProxy directly.
import type { Assignment, ServiceStep } from "@dockyard/proto";
import type { AgentStage, StageExit, StageTools } from "./kind";
import { failedExit as logFailure, taskHandle, type StageLog } from "./task-handle";
import { ExecutorError } from "../executor/errors";
import { isAgentError } from "../errors";
import { readServiceFiles } from "../services/read-service-file";
import { rollHost } from "../services/roll";
import { rollSpecOf } from "../services/step-spec";
import { watchHost } from "../services/watch";
import { findHaproxy } from "../services/service-host";
import { registryAuth } from "./registry-auth";
import { ensureImage } from "../docker/registry";

export const serviceStep: AgentStage = {
  type: "serviceStep",
  // Placed by the coordinator on agents offering `docker`; haproxy is checked when a step runs.
  capabilities: () => [],
  async start(a, _spec, tools, signal) {
    const kind = a.spec?.kind;
    if (kind?.case !== "serviceStep") throw new ExecutorError("start_failed", "not a service-step stage");
    const step = kind.value;
    return taskHandle(async (log) => {
      try {
        return await run(a, step, tools, log, signal);
      } catch (err) {
        if (isAgentError(err) && !signal.aborted) return failedExit(log, err.message);
        throw err;
      }
    });
  },
  remove: async () => undefined,
};

async function run(
  a: Assignment,
  step: ServiceStep,
  tools: StageTools,
  log: StageLog,
  signal: AbortSignal,
): Promise<StageExit> {
  if (step.action === "read") {
    if (!step.file) return failedExit(log, "read: no service file named");
    const src = await tools.sources.get(a, signal);
    const files = await readServiceFiles(src.dir, step.file);
    log.line(`dockyard: read ${step.file}${files.envFile !== null ? " and its env file" : ""}`);
    const values: Record<string, string> = { service_file: files.serviceFile };
    if (files.envFile !== null) values.env_file = files.envFile;
    return { exitCode: 0, oomKilled: false, outputs: { values } };
  }
  const docker = tools.docker;
  if (!docker) return failedExit(log, "service-step needs a Docker engine, and this agent has none");
  const line = (text: string) => log.line(`dockyard: ${text}`);
  if (step.action === "watch") {
    if (!step.target) return failedExit(log, "watch: no target revision");
    await watchHost(
      docker,
      {
        service: step.service,
        owner: tools.services.owner,
        revision: step.target.revision,
        replicas: step.replicas,
        watchMs: Number(step.watchMs),
      },
      line,
      signal,
    );
    return { exitCode: 0, oomKilled: false, outputs: { values: { revision: String(step.target.revision) } } };
  }
  if (step.action !== "roll") return failedExit(log, `unknown service-step action '${step.action}'`);
  const haproxy = findHaproxy();
  if (!haproxy) return failedExit(log, "haproxy is not installed on this host: apt-get install haproxy");
  const auth = registryAuth(a);
  // Built and pushed on another host: pulled from the run's registry when this engine lacks it (a rollback
  // finds the old revision's image cached).
  if (step.target && auth && step.target.image.startsWith(`${auth.server}/`))
    await ensureImage(docker, step.target.image, auth, line, signal);
  const proxy = await tools.services.ensureProxy(step.service, step.proxyPort, haproxy);
  line(`proxy of service '${step.service}' runs on ${proxy.address} (pid ${proxy.pid()})`);
  const secrets = Object.fromEntries(
    (a.spec?.secrets ?? []).map((s) => [s.env, Buffer.from(s.value).toString("utf8")] as const),
  );
  const spec = rollSpecOf(step, secrets);
  try {
    await rollHost({ docker, owner: tools.services.owner, proxy, log: line, signal }, spec);
  } finally {
    // The next heartbeat reports the replicas as they are now, also after a failed step.
    await tools.services.refresh();
  }
  const values: Record<string, string> = {
    address: tools.services.advertised(step.proxyPort),
    revision: spec.target ? String(spec.target.revision) : "",
    replicas: String(spec.target ? spec.replicas : 0),
  };
  return { exitCode: 0, oomKilled: false, outputs: { values } };
}

/** A failed step: the message is in its log and is the stage's reason (the coordinator quotes it when it rolls back). */
function failedExit(log: StageLog, message: string): StageExit {
  return { ...logFailure(log, message), failure: message };
}
