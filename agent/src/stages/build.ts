// `build`: the image built with BuildKit from the run's source (git checkout or
// uploaded directory), progress streamed into the stage log, optionally pushed
// to the run's registry. Builder, git and registry errors fail the stage with
// their own message. Outputs: image, image_id, digest, size_bytes, layers, commit.
import type { AgentStage } from "./kind";
import { failedExit, taskHandle } from "./task-handle";
import { inside } from "./paths";
import { registryAuth } from "./registry-auth";
import { buildImage } from "../docker/image-build";
import { packContext } from "../docker/context-tar";
import { pushImage } from "../docker/registry";
import { ExecutorError } from "../executor/errors";
import { isAgentError } from "../errors";

export const build: AgentStage = {
  type: "build",
  capabilities: (tools) => (tools.docker && tools.buildkit ? ["build"] : []),
  async start(a, _spec, tools, signal) {
    const kind = a.spec?.kind;
    const docker = tools.docker;
    if (kind?.case !== "build" || !docker)
      throw new ExecutorError("start_failed", "not a build stage, or no Docker engine here");
    const b = kind.value;
    return taskHandle(async (log) => {
      try {
        const auth = registryAuth(a);
        if (b.push && !auth)
          return failedExit(log, "push: true but neither the pipeline nor the server names a registry");
        const src = await tools.sources.get(a, signal);
        if (src.commit) log.line(`dockyard: source at commit ${src.commit}`);
        const refs = b.tags.map((t) => (b.push ? `${auth!.server}/${t}` : t));
        const secrets = Object.fromEntries(
          (a.spec?.secrets ?? []).map((s) => [s.env, Buffer.from(s.value).toString("utf8")]),
        );
        const started = Date.now();
        const result = await buildImage(docker, {
          context: packContext(inside(src.dir, b.context), { dockerfile: b.dockerfile }),
          dockerfile: b.dockerfile,
          target: b.target || undefined,
          buildArgs: b.args,
          tags: refs,
          secrets,
          networkMode: "none",
          signal,
          onLine: log.line,
        });
        // In the background: the stage's result does not wait for the engine's prune.
        void tools.buildCache.afterBuild();
        let digest = "";
        for (const ref of b.push ? refs : []) {
          const pushed = await pushImage(docker, ref, auth!, log.line, signal);
          digest ||= pushed.digest;
        }
        const mb = (result.sizeBytes / 1e6).toFixed(1);
        log.line(
          `dockyard: built ${refs[0]} (${result.imageId.slice(7, 19)}, ${mb} MB, ${result.layers} layers, ${result.builder}) in ${((Date.now() - started) / 1000).toFixed(1)} s${digest ? `; pushed ${digest}` : ""}`,
        );
        const image = { ref: refs[0]!, id: result.imageId, digest, sizeBytes: result.sizeBytes, layers: result.layers };
        return {
          exitCode: 0,
          oomKilled: false,
          outputs: {
            values: {
              image: image.ref,
              image_id: image.id,
              digest,
              size_bytes: String(image.sizeBytes),
              layers: String(image.layers),
              commit: src.commit,
            },
            image,
          },
        };
      } catch (err) {
        if (isAgentError(err)) return failedExit(log, err.message);
        throw err;
      }
    });
  },
  remove: async () => undefined,
};
