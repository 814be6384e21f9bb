// `read`: a service file and its env file, as texts, from the run's source. The server parses
// and checks them (it owns the format); the YAML is read here only to find `env_file`. Paths
// cannot leave the run's source, by `..` or by a symbolic link, and each file is bounded.
import { open, realpath } from "node:fs/promises";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { AgentError } from "../errors";
import { inside } from "../stages/paths";

export const MAX_SERVICE_FILE_BYTES = 64 * 1024;

export interface ServiceFiles {
  serviceFile: string;
  /** The env file's text, or null when the service file names none. */
  envFile: string | null;
}

/** @throws AgentError naming the path that is missing, outside the source, too large, or not YAML. */
export async function readServiceFiles(sourceDir: string, file: string): Promise<ServiceFiles> {
  const serviceFile = await readBounded(sourceDir, file, "service file");
  let doc: unknown;
  try {
    doc = parseYaml(serviceFile, { maxAliasCount: 100 });
  } catch (err) {
    throw new AgentError("invalid", `service file '${file}' is not valid YAML: ${(err as Error).message}`);
  }
  const envFile = doc && typeof doc === "object" ? (doc as Record<string, unknown>).env_file : undefined;
  if (envFile === undefined || envFile === null) return { serviceFile, envFile: null };
  if (typeof envFile !== "string" || envFile === "")
    throw new AgentError("invalid", `service file '${file}': env_file must be a path (a string)`);
  if (path.isAbsolute(envFile))
    throw new AgentError("invalid", `service file '${file}': env_file '${envFile}' must be relative to its directory`);
  const rel = path.join(path.dirname(file), envFile);
  return { serviceFile, envFile: await readBounded(sourceDir, rel, `env file '${envFile}' (named by '${file}') at`) };
}

async function readBounded(sourceDir: string, rel: string, what: string): Promise<string> {
  const full = within(sourceDir, rel, what);
  let real: string;
  try {
    real = await realpath(full);
  } catch {
    throw new AgentError("invalid", `${what} '${rel}' is not in the run's source`);
  }
  // A symbolic link in the source must not read a file of the agent's host.
  const root = await realpath(sourceDir);
  const relReal = path.relative(root, real);
  if (relReal === ".." || relReal.startsWith(`..${path.sep}`) || path.isAbsolute(relReal))
    throw new AgentError("invalid", `${what} '${rel}' is a link to a file outside the run's source`);
  const handle = await open(real, "r").catch(() => null);
  if (!handle) throw new AgentError("invalid", `${what} '${rel}' cannot be read`);
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new AgentError("invalid", `${what} '${rel}' is not a file`);
    // Read one byte past the bound: a file growing meanwhile is still caught.
    const buf = Buffer.alloc(MAX_SERVICE_FILE_BYTES + 1);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    if (bytesRead > MAX_SERVICE_FILE_BYTES)
      throw new AgentError("invalid", `${what} '${rel}' is over ${MAX_SERVICE_FILE_BYTES / 1024} KiB`);
    return buf.subarray(0, bytesRead).toString("utf8");
  } finally {
    await handle.close();
  }
}

/** `rel` inside `root`, or an error naming the path as the user wrote it. */
function within(root: string, rel: string, what: string): string {
  try {
    return inside(root, rel);
  } catch {
    throw new AgentError("invalid", `${what} '${rel}' is outside the run's source`);
  }
}
