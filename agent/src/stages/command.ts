// `command`: the stage's commands through the executor it names (docker or
// shell). An image that is not on this host is pulled from the run's registry
// first, when the stage has one; executors themselves never pull. The stage
// reports outputs by writing `key=value` lines to the file $DOCKYARD_OUTPUT
// names (see output-file.ts), read once it has exited; the files it leaves in
// $DOCKYARD_ARTIFACTS are then uploaded as its artifacts (artifacts-dir.ts), and the
// lines saying what was stored or skipped end its log.
import path from "node:path";
import type { AgentStage, StageExit, StageHandle } from "./kind";
import { ensureImage } from "../docker/registry";
import { ExecutorError } from "../executor/errors";
import { isAgentError } from "../errors";
import { registryAuth } from "./registry-auth";
import { readOutputs } from "./output-dir";
import { uploadArtifactsDir } from "./artifacts-dir";
import { ARTIFACTS_DIR, type OutputChunk } from "../executor/types";

export const command: AgentStage = {
  type: "command",
  capabilities: (tools) => tools.executors.map((e) => e.name),
  process(a) {
    const kind = a.spec?.kind;
    return kind?.case === "command"
      ? { image: kind.value.image || null, commands: kind.value.commands, limits: kind.value.limits }
      : { image: null, commands: [] };
  },
  async start(a, spec, tools, signal) {
    const kind = a.spec?.kind;
    if (kind?.case !== "command") throw new ExecutorError("start_failed", "not a command stage");
    const executor = tools.executors.find((e) => e.name === kind.value.executor) ?? tools.executors[0];
    if (!executor) throw new ExecutorError("start_failed", `no ${kind.value.executor} executor on this agent`);
    const auth = registryAuth(a);
    if (executor.name === "docker" && tools.docker && auth && spec.image?.startsWith(`${auth.server}/`)) {
      await ensureImage(tools.docker, spec.image, auth, () => undefined, signal);
    }
    let outputDir: string;
    try {
      outputDir = tools.outputs.create(spec.attemptId);
    } catch (cause) {
      throw new ExecutorError("start_failed", `cannot create the output directory: ${(cause as Error).message}`, {
        cause,
      });
    }
    const handle = await executor.start({ ...spec, outputDir }, signal);
    const lines: string[] = [];
    // Read, uploaded and removed as soon as the stage exits: before its end is reported (remove() is the fallback).
    const exited = handle.wait().then(async (exit) => {
      try {
        const result = await withOutputs(exit, outputDir);
        await uploadArtifactsDir(path.join(outputDir, ARTIFACTS_DIR), a, tools.artifacts, (t) => lines.push(t));
        return result;
      } finally {
        tools.outputs.remove(spec.attemptId);
      }
    });
    exited.catch(() => undefined); // observed through wait()
    // The runner reads the output to its end before it waits: the artifact lines come last.
    async function* output(): AsyncIterable<OutputChunk> {
      yield* handle.output;
      await exited.catch(() => undefined);
      for (const text of lines) yield { stream: "stdout", data: Buffer.from(`${text}\n`) };
    }
    return { output: output(), hold: handle.hold, wait: () => exited } satisfies StageHandle;
  },
  async remove(a, spec, tools) {
    const name = a.spec?.kind?.case === "command" ? a.spec.kind.value.executor : "docker";
    try {
      await (tools.executors.find((e) => e.name === name) ?? tools.executors[0])?.remove(spec);
    } finally {
      tools.outputs.remove(spec.attemptId);
    }
  },
};

/**
 * The exit with the outputs the stage wrote. Bad content fails a stage that exited 0, with
 * the message naming the line; after a failed command the outputs are best effort (the exit
 * code is the failure to report).
 */
async function withOutputs(exit: StageExit, dir: string): Promise<StageExit> {
  try {
    const values = await readOutputs(dir);
    return Object.keys(values).length > 0 ? { ...exit, outputs: { values } } : exit;
  } catch (err) {
    if (!isAgentError(err)) throw err;
    return exit.exitCode === 0 ? { ...exit, failure: err.message } : exit;
  }
}
