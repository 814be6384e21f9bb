// `test`: a one-time container (on a deploy stage's environment network when it
// names one); its exit code decides, and JUnit counts become outputs.
import type { AgentStage } from "./kind";
import { failedExit, taskHandle } from "./task-handle";
import { registryAuth } from "./registry-auth";
import { ensureImage } from "../docker/registry";
import { runTestContainer } from "../docker/test-container";
import { ExecutorError } from "../executor/errors";
import { isAgentError } from "../errors";

export const test: AgentStage = {
  type: "test",
  capabilities: () => [],
  process(a) {
    const kind = a.spec?.kind;
    return kind?.case === "test"
      ? { image: kind.value.image || null, commands: kind.value.commands, limits: kind.value.limits }
      : { image: null, commands: [] };
  },
  async start(a, spec, tools, signal) {
    const kind = a.spec?.kind;
    const docker = tools.docker;
    if (kind?.case !== "test" || !docker)
      throw new ExecutorError("start_failed", "not a test stage, or no Docker engine here");
    const t = kind.value;
    return taskHandle(async (log) => {
      const auth = registryAuth(a);
      try {
        if (auth && t.image.startsWith(`${auth.server}/`)) await ensureImage(docker, t.image, auth, log.line, signal);
        const result = await runTestContainer(docker, {
          image: t.image,
          command: t.commands.length ? ["sh", "-ec", t.commands.join("\n")] : undefined,
          env: spec.env,
          network: t.network || undefined,
          junitPath: t.junitPath || undefined,
          signal,
          name: `dockyard-test-${a.attemptId}`,
          labels: { "dockyard.attempt": a.attemptId, "dockyard.agent": tools.agentId, "dockyard.run": a.runId },
          onOutput: (stream, data) => log.write(stream, data),
          onProblem: (line) => log.line(`dockyard: ${line}`),
        });
        const j = result.junit;
        if (j)
          log.line(
            `dockyard: tests: ${j.passed} passed, ${j.failed} failed, ${j.skipped} skipped, ${j.errors} errors (${j.total} total)`,
          );
        const values: Record<string, string> = { exit_code: String(result.exitCode) };
        if (j)
          Object.assign(values, {
            passed: String(j.passed),
            failed: String(j.failed),
            skipped: String(j.skipped),
            errors: String(j.errors),
            total: String(j.total),
          });
        return { exitCode: result.exitCode, oomKilled: false, outputs: { values, tests: j } };
      } catch (err) {
        if (isAgentError(err) && !signal.aborted) return failedExit(log, err.message);
        throw err;
      }
    });
  },
  remove: async () => undefined,
};
