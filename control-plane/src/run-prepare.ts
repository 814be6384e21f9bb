// Every check of a submit before anything is written: the pipeline file (problems with line and
// column), the uploaded source (size, tar format), the commit, that the secrets and notification
// channels the file names exist. What it answers is what RunsService.write writes.
import {
  parsePipeline,
  formatProblems,
  secretsKeyOf,
  sourceUseOf,
  type PipelineSpec,
  type RegistrySpec,
} from "@dockyard/pipeline";
import type { Db, Tx } from "./store/db";
import type { RunOrigin } from "./store/run-create";
import type { Actor } from "./store/audit";
import { InvalidError } from "./errors";
import type { SecretStore } from "./secrets/secret-store";
import type { NotifyService } from "./notify/service";

/** Largest uploaded source (a tar of the CLI's directory). */
export const MAX_SOURCE_BYTES = 32 * 1024 * 1024;

/** What a submit may carry besides the file (the CLI sends both). */
export interface SubmitExtras {
  commit?: string;
  /** The pushed branch, for a run a git push started. */
  branch?: string;
  sourceTar?: Uint8Array;
}

/** A checked pipeline, ready for RunsService.write. */
export interface PreparedRun {
  pipeline: PipelineSpec;
  text: string;
  origin: RunOrigin;
}

export interface RunPrepareDeps {
  /** Named secrets: the ones the file refers to must exist. */
  secrets: Pick<SecretStore, "missing">;
  /** Checks that the channels a `notify:` rule names exist. */
  notify?: Pick<NotifyService, "checkPipeline">;
  /** The server's registry, for pipelines that name none (DOCKYARD_REGISTRY*). */
  defaultRegistry?: RegistrySpec | null;
}

/** See RunsService.prepare: InvalidError naming every problem; nothing is written. */
export async function prepareRun(
  deps: RunPrepareDeps,
  yaml: string | Uint8Array,
  source: string,
  defaultName: string | undefined,
  extra: SubmitExtras,
  startedBy: Actor,
  reader?: Db | Tx,
): Promise<PreparedRun> {
  const result = parsePipeline(yaml, { defaultName: defaultName || undefined });
  if (!result.ok) {
    const lines = formatProblems(result.problems, source.replace(/^[a-z]+:/, "") || "dockyard.yml").split("\n");
    throw new InvalidError(
      `pipeline is invalid (${result.problems.length} problem${result.problems.length === 1 ? "" : "s"}):\n${lines.join("\n")}`,
      lines,
    );
  }
  const sourceTar = extra.sourceTar?.length ? Buffer.from(extra.sourceTar) : null;
  if (sourceTar && sourceTar.length > MAX_SOURCE_BYTES) {
    throw new InvalidError(
      `the uploaded source is ${sourceTar.length} bytes; the limit is ${MAX_SOURCE_BYTES} (use a git source: for bigger ones)`,
    );
  }
  if (sourceTar && !looksLikeTar(sourceTar)) {
    throw new InvalidError(
      "the uploaded source is not a tar archive (POSIX ustar, in 512-byte blocks): send the directory as `dockyard run` packs it",
    );
  }
  const commit = extra.commit ?? "";
  if (commit && !/^[0-9a-f]{7,64}$/.test(commit))
    throw new InvalidError("commit must be 7-64 lowercase hex characters");
  const registry = result.pipeline.registry ?? deps.defaultRegistry ?? null;
  const usesSource = result.pipeline.stages.some((st) => sourceUseOf(st.type) !== null);
  const needing = [
    ...new Set(result.pipeline.stages.filter((st) => sourceUseOf(st.type) === "needs").map((st) => st.type)),
  ];
  if (needing.length > 0 && result.pipeline.source.kind === "upload" && !sourceTar) {
    throw new InvalidError(
      `this pipeline has ${needing.join(" or ")} stages and no git source:, so it needs the directory uploaded with it (dockyard run does that)`,
    );
  }
  await checkSecretsExist(deps.secrets, result.pipeline, registry, reader);
  await deps.notify?.checkPipeline(result.pipeline, reader);
  const text = typeof yaml === "string" ? yaml : Buffer.from(yaml).toString("utf8");
  const origin = {
    source: source.slice(0, 200),
    commit,
    branch: (extra.branch ?? "").slice(0, 255),
    sourceTar: usesSource ? sourceTar : null,
    defaultRegistry: registry,
    startedBy,
  };
  return { pipeline: result.pipeline, text, origin };
}

/**
 * Every secret the pipeline refers to must exist at submit (it may still be deleted before
 * a stage runs; that stage then errors). InvalidError names each missing one and where it is used.
 */
async function checkSecretsExist(
  secrets: RunPrepareDeps["secrets"],
  pipeline: PipelineSpec,
  registry: RegistrySpec | null,
  reader: Db | Tx | undefined,
): Promise<void> {
  const uses = secretUses(pipeline);
  if (registry?.passwordSecret)
    uses.set(
      registry.passwordSecret,
      new Set([pipeline.registry ? "registry.password" : "the server's DOCKYARD_REGISTRY_PASSWORD_SECRET"]),
    );
  if (uses.size === 0) return;
  const missing = await secrets.missing([...uses.keys()], reader);
  if (missing.length === 0) return;
  const lines = missing.map(
    (name) =>
      `secret '${name}' does not exist (${[...(uses.get(name) ?? [])].join(", ")}); create it with: dockyard secret set ${name}`,
  );
  throw new InvalidError(lines.join("\n"), lines);
}

/**
 * Secret name -> the env paths where stages use it, in stage order. A stage ref equal to a
 * pipeline ref is the inherited one, reported once at the pipeline's `env`; a pipeline ref
 * that every stage overrides is used nowhere and not required.
 */
function secretUses(pipeline: PipelineSpec): Map<string, Set<string>> {
  const uses = new Map<string, Set<string>>();
  const add = (name: string, where: string) => {
    const set = uses.get(name) ?? new Set<string>();
    set.add(where);
    uses.set(name, set);
  };
  const key = (r: { env: string; secret: string; asFile: boolean }) => `${r.env}\0${r.secret}\0${r.asFile}`;
  const inherited = new Set(pipeline.secrets.map(key));
  for (const stage of pipeline.stages) {
    const field = secretsKeyOf(stage.type);
    for (const r of stage.secrets)
      add(r.secret, inherited.has(key(r)) ? `env.${r.env}` : `stages.${stage.name}.${field}.${r.env}`);
  }
  return uses;
}

/** A POSIX tar: whole 512-byte blocks, and a first header with the ustar magic (an empty archive is all zeros). */
function looksLikeTar(tar: Buffer): boolean {
  if (tar.length === 0 || tar.length % 512 !== 0) return false;
  if (tar.subarray(0, 512).every((b) => b === 0)) return true;
  return tar.subarray(257, 262).toString("latin1") === "ustar";
}
