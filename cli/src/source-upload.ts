// What `dockyard run` sends with a pipeline whose build, deploy or test stages
// read the run's files and that names no git `source:`: the pipeline file's
// directory as a tar (honouring its .dockerignore), and its git HEAD if any.
import { execFile } from "node:child_process";
import { dirname, resolve } from "node:path";
import { promisify } from "node:util";
import { CliError } from "./errors";

/** The server's limit (runs-service MAX_SOURCE_BYTES). */
const MAX_UPLOAD_BYTES = 32 * 1024 * 1024;

export async function sourceUpload(
  file: string,
  yaml: Uint8Array,
  /** The directory to send (default: the file's own, as `dockyard run` sends it). */
  sourceDir?: string,
): Promise<{ sourceTar?: Uint8Array; commit?: string }> {
  // Loaded here, not at the top: the agent package brings dockerode, and every CLI call would pay for it.
  const [{ parsePipeline, sourceUseOf }, { packContext }] = await Promise.all([
    import("@dockyard/pipeline"),
    import("@dockyard/agent"),
  ]);
  const parsed = parsePipeline(yaml, { defaultName: "x" });
  if (!parsed.ok) return {}; // the server names the problems
  const dir = sourceDir ? resolve(sourceDir) : dirname(resolve(file));
  const commit = await gitHead(dir);
  const reads = parsed.pipeline.stages.some((s) => sourceUseOf(s.type) !== null);
  if (!reads || parsed.pipeline.source.kind === "git") return { commit };
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of packContext(dir, { maxBytes: MAX_UPLOAD_BYTES })) {
      size += (chunk as Buffer).length;
      if (size > MAX_UPLOAD_BYTES) break;
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    throw new CliError(`cannot upload ${dir}: ${(err as Error).message}`, 1, { cause: err });
  }
  if (size > MAX_UPLOAD_BYTES) {
    throw new CliError(
      `${dir} is over ${MAX_UPLOAD_BYTES / 1024 / 1024} MiB as a tar: add a .dockerignore, or use a git source:`,
    );
  }
  return { sourceTar: Buffer.concat(chunks), commit };
}

async function gitHead(dir: string): Promise<string | undefined> {
  try {
    const { stdout } = await promisify(execFile)("git", ["-C", dir, "rev-parse", "HEAD"], { timeout: 5000 });
    const sha = stdout.trim();
    return /^[0-9a-f]{40}$/.test(sha) ? sha : undefined;
  } catch {
    return undefined;
  }
}
