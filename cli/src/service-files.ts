// The service files a pipeline's update-service stages name, checked by `dockyard validate` when they are in the
// directory being validated (a pipeline with a git `source:` may name files that only its repository holds: those
// are left to the run).
import { stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { PipelineSpec, ServiceProblem } from "@dockyard/pipeline";
import { readBoundedFile } from "./pipeline-file";
import { CliError } from "./errors";

/** Read at most this much of a service or env file: the parser reports anything over its own 64 KiB limit. */
const READ_LIMIT = 1024 * 1024;

/** What checking the service files found: how many were there to check, and their problems. */
export interface ServiceFilesCheck {
  checked: number;
  problems: ServiceProblem[];
}

/**
 * Checks, with its env file, each service file named by an update-service stage of `pipeline`, relative to the
 * pipeline file's directory (the run's source when the CLI uploads it). Files that are not there are skipped.
 */
export async function checkServiceFiles(pipelineFile: string, pipeline: PipelineSpec): Promise<ServiceFilesCheck> {
  const { envFilePathOf, parseServiceFile, serviceDefinition } = await import("@dockyard/pipeline");
  const seen = new Set<string>();
  const result: ServiceFilesCheck = { checked: 0, problems: [] };
  for (const stage of pipeline.stages) {
    if (stage.spec.type !== "update-service" || stage.spec.file === null) continue;
    const file = join(dirname(pipelineFile), stage.spec.file);
    const key = `${file}\0${stage.spec.service}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const text = await readIfPresent(file);
    if (text === null) continue;
    result.checked++;
    const alone = parseServiceFile(text, { file });
    const envFile =
      alone.ok && alone.definition.envFile !== null ? envFilePathOf(file, alone.definition.envFile) : null;
    const envText = envFile === null ? null : await readIfPresent(envFile);
    const checked = serviceDefinition(text, envText, { file, service: stage.spec.service });
    if (!checked.ok) result.problems.push(...checked.problems);
  }
  return result;
}

async function readIfPresent(path: string): Promise<Uint8Array | null> {
  try {
    if (!(await stat(path)).isFile()) return null;
  } catch {
    return null; // not there (or not readable as a file): the run reads it from its source, or says so
  }
  return readBoundedFile(path, READ_LIMIT, (size) => new CliError(`${path} is too large (at least ${size} bytes)`));
}
