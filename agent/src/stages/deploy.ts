// `deploy`: a temporary environment from a Compose-subset template in the run's
// source, on this agent's engine, with the named services' images replaced and
// named volumes seeded. It outlives the stage: the agent tears it down when the
// run ends (see environments.ts) and the reaper when its TTL passes.
// Outputs: env_id, network, owner, expires_at_ms, SERVICE.host / .ip / .address.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { parseComposeTemplate } from "@dockyard/pipeline";
import type { AgentStage } from "./kind";
import { failedExit, taskHandle } from "./task-handle";
import { inside } from "./paths";
import { registryAuth } from "./registry-auth";
import { ensureImage } from "../docker/registry";
import { upEnvironment } from "../docker/environment";
import { ExecutorError } from "../executor/errors";
import { isAgentError } from "../errors";

export const deploy: AgentStage = {
  type: "deploy",
  capabilities: () => [],
  async start(a, _spec, tools, signal) {
    const kind = a.spec?.kind;
    const docker = tools.docker;
    if (kind?.case !== "deploy" || !docker)
      throw new ExecutorError("start_failed", "not a deploy stage, or no Docker engine here");
    const d = kind.value;
    return taskHandle(async (log) => {
      try {
        const src = await tools.sources.get(a, signal);
        const file = inside(src.dir, d.template);
        const text = await readFile(file, "utf8").catch(() => null);
        if (text === null) return failedExit(log, `template '${d.template}' is not in the run's source`);
        const parsed = parseComposeTemplate(parseYaml(text, { merge: true, maxAliasCount: 100 }));
        if (!parsed.ok)
          return failedExit(
            log,
            `template '${d.template}' is not supported:\n${parsed.problems.map((p) => `  ${p.path}: ${p.message}`).join("\n")}`,
          );
        const template = parsed.template;
        const envFiles: Record<string, string> = {};
        for (const f of Object.values(template.services).flatMap((s) => s.envFiles)) {
          envFiles[f] = await readFile(inside(path.dirname(file), f), "utf8");
        }
        const seeds = Object.fromEntries(Object.entries(d.seed).map(([volume, rel]) => [volume, inside(src.dir, rel)]));
        const auth = registryAuth(a);
        const images = Object.values(template.services)
          .map((s) => s.image)
          .concat(Object.values(d.images));
        for (const image of new Set(images)) {
          if (auth && image.startsWith(`${auth.server}/`)) await ensureImage(docker, image, auth, log.line, signal);
        }
        const envId = `env-${a.attemptId.slice(0, 13)}`;
        const expiresAt = new Date(Date.now() + Number(d.ttlMs));
        const env = await upEnvironment(docker, {
          envId,
          project: `dy-${a.attemptId.slice(0, 8)}`,
          template,
          images: d.images,
          seeds,
          envFiles,
          signal,
          onLine: log.line,
          healthTimeoutMs: Number(d.healthTimeoutMs),
          labels: {
            owner: d.owner,
            runId: a.runId,
            agentId: tools.agentId,
            expiresAt,
            stage: a.stageName,
            keepOnFailure: d.keepOnFailure,
          },
        });
        // The next heartbeat reports it (dockyard envs).
        await tools.environments.refresh();
        const values: Record<string, string> = {
          env_id: envId,
          network: env.network,
          owner: d.owner,
          expires_at_ms: String(expiresAt.getTime()),
        };
        for (const [name, s] of Object.entries(env.services)) {
          values[`${name}.host`] = s.host;
          values[`${name}.ip`] = s.ip;
          values[`${name}.address`] = s.ports[0] ? `${s.host}:${s.ports[0]}` : s.host;
        }
        log.line(
          `dockyard: environment ${envId} up (${Object.keys(env.services).join(", ")}) until ${expiresAt.toISOString()}`,
        );
        return { exitCode: 0, oomKilled: false, outputs: { values } };
      } catch (err) {
        if (isAgentError(err) || (err instanceof Error && err.name === "YAMLParseError"))
          return failedExit(log, err.message);
        throw err;
      }
    });
  },
  remove: async () => undefined,
};
